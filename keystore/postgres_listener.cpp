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

// Without a blocking libpq call, so that a stop is never held up by a server that does not
// answer: the connection is driven by PQconnectPoll and LISTEN sent with PQsendQuery, each wait a
// poll() that the wake-up pipe ends. Only the host name's lookup, inside PQconnectStartParams,
// can still block (libpq resolves it synchronously).
bool Listener::connect() {
  const auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
  conn_ = start_connecting_with_defaults(target_);
  if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) {
    return false;
  }
  // libpq's protocol: act as if the last poll said "writing", wait for what each call asks.
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED ||
        !wait_for_socket(status == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
      return false;
    }
    status = PQconnectPoll(conn_);
  }
  if (PQsendQuery(conn_, ("LISTEN " + channel_).c_str()) == 0) {
    return false;
  }
  while (PQflush(conn_) == 1) {  // the query is tiny; this is for a full socket buffer
    if (!wait_for_socket(POLLOUT, deadline)) {
      return false;
    }
  }
  while (PQisBusy(conn_) != 0) {
    if (!wait_for_socket(POLLIN, deadline) || PQconsumeInput(conn_) == 0) {
      return false;
    }
  }
  bool listening = false;
  while (PGresult* result = PQgetResult(conn_)) {
    listening = listening || PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
  }
  return listening;
}

bool Listener::wait_for_socket(short events, std::chrono::steady_clock::time_point deadline) {
  while (!stopping_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd fds[2] = {{PQsocket(conn_), events, 0}, {wake_[0], POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0) {
      continue;  // EINTR
    }
    if (fds[1].revents != 0) {
      return false;  // stop
    }
    if (fds[0].revents != 0) {
      return true;  // ready, or an error libpq reports on its next call
    }
  }
  return false;
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
