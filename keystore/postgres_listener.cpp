#include "keystore/postgres_listener.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cctype>

#include "keystore/postgres.hpp"

namespace keygate::pg {

namespace {

bool is_identifier(const std::string& s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return !std::isdigit(static_cast<unsigned char>(s.front()));
}

}  // namespace

Result<std::unique_ptr<Listener>> Listener::start(std::string target, std::string channel,
                                                  std::function<void()> on_signal) {
  if (!is_identifier(channel)) {
    return fail(Error::internal("a NOTIFY channel must be a plain identifier"));
  }
  std::unique_ptr<Listener> listener(
      new Listener(std::move(target), std::move(channel), std::move(on_signal)));
  if (::pipe2(listener->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return fail(Error::internal("cannot create the database listener's wake-up pipe"));
  }
  listener->thread_ = std::thread([l = listener.get()] { l->run(); });
  return listener;
}

Listener::Listener(std::string target, std::string channel, std::function<void()> on_signal)
    : target_(std::move(target)), channel_(std::move(channel)), on_signal_(std::move(on_signal)) {}

Listener::~Listener() {
  stopping_ = true;
  if (wake_[1] >= 0) {
    const char byte = 0;
    [[maybe_unused]] auto n = ::write(wake_[1], &byte, 1);
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  for (int fd : wake_) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void Listener::run() {
  while (!stopping_) {
    const bool was_up = connect();
    if (was_up) {
      ++connections_;
      connected_ = true;
      on_signal_();  // whatever was sent while this listener was not connected is unknown
      listen_until_lost();
      connected_ = false;
    }
    PQfinish(conn_);  // accepts null
    conn_ = nullptr;
    if (!was_up && wait_for_stop(1000)) {
      return;
    }
  }
}

bool Listener::connect() {
  conn_ = connect_with_defaults(target_);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return false;
  }
  PGresult* result = PQexec(conn_, ("LISTEN " + channel_).c_str());
  const bool listening = result != nullptr && PQresultStatus(result) == PGRES_COMMAND_OK;
  PQclear(result);
  return listening;
}

void Listener::listen_until_lost() {
  while (!stopping_) {
    pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      continue;  // EINTR
    }
    if (fds[1].revents != 0) {
      return;  // stop
    }
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
      return;  // lost: run() reconnects
    }
    bool heard = false;
    while (PGnotify* notification = PQnotifies(conn_)) {
      heard = true;
      PQfreemem(notification);
    }
    if (heard) {
      on_signal_();
    }
  }
}

bool Listener::wait_for_stop(int milliseconds) {
  pollfd wake = {wake_[0], POLLIN, 0};
  ::poll(&wake, 1, milliseconds);
  return stopping_;
}

}  // namespace keygate::pg
