// Usage rows against the real `keygate serve` process under load: SIGTERM loses none; SIGKILL
// loses at most the rows of calls answered in the last moments before the kill (the writer
// commits whatever is queued at once, so the bound is one commit, ≤ ~50 ms of traffic; the test
// allows 100 ms for a loaded CI machine).

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "keystore/sqlite.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string run_capture(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) {
    out += buf;
  }
  if (p) {
    pclose(p);
  }
  return out;
}

// A `keygate serve` child with its own data directory, a mock OpenAI upstream and a token.
struct Server {
  TempDir dir;
  std::string data = dir.str() + "/data";
  std::string log = dir.str() + "/serve.log";
  std::string token;
  pid_t pid = -1;
  uint16_t port = 0;

  explicit Server(const MockUpstream& upstream) {
    std::string config = dir.str() + "/keygate.json";
    std::ofstream(config) << R"({"listen": "127.0.0.1:0", "threads": 2,
      "providers": {"openai": {"base_url": ")"
                          << upstream.base_url("/v1") << R"("}}})";
    token = run_capture(std::string(KEYGATE_BINARY) + " init --data " + data);
    while (!token.empty() && token.back() == '\n') {
      token.pop_back();
    }
    REQUIRE(token.rfind("kg_", 0) == 0);
    pid = fork();
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 2);
      setenv("OPENAI_API_KEY", "sk-env-kill-test-000000000001234", 1);
      execl(KEYGATE_BINARY, KEYGATE_BINARY, "serve", "--data", data.c_str(), "--config",
            config.c_str(), nullptr);
      _exit(127);
    }
    REQUIRE(pid > 0);
    std::regex port_re(R"("msg":"listening".*"port":(\d+))");
    for (int i = 0; i < 200 && port == 0; ++i) {
      std::this_thread::sleep_for(25ms);
      std::smatch m;
      auto text = slurp(log);
      if (std::regex_search(text, m, port_re)) {
        port = static_cast<uint16_t>(std::stoi(m[1]));
      }
    }
    REQUIRE(port != 0);
  }
  ~Server() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  int wait_exit() {
    int status = 0;
    for (int i = 0; i < 400; ++i) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return status;
      }
      std::this_thread::sleep_for(25ms);
    }
    return -1;
  }
  int64_t rows() {
    auto db = sqlite::Database::open(data + "/keygate.db");
    REQUIRE(db.has_value());
    auto s = db->prepare("SELECT count(*) FROM usage");
    REQUIRE(s.has_value());
    REQUIRE(s->step().value());
    return s->column_int(0);
  }
};

// Clients firing chat requests until told to stop; remembers when each 200 arrived.
struct Load {
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::vector<Clock::time_point> answered;
  std::vector<std::thread> threads;

  void start(uint16_t port, const std::string& token, int clients) {
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([this, port, token] {
        while (!stop.load()) {
          HttpResponse r;
          try {
            r = http_request(port, "POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini"),
                             {{"authorization", bearer(token)}}, 5s);
          } catch (const std::exception&) {
            r.status = 0;  // connection refused: the server stopped listening
          }
          // Only keygate's answers count: once keygate has exited, a parallel test may be
          // given its port.
          if (r.status == 200 && !r.header("x-keygate-provider").empty()) {
            std::lock_guard lock(mutex);
            answered.push_back(Clock::now());
          } else if (r.status == 0) {
            std::this_thread::sleep_for(5ms);  // refused while draining / after the kill
          }
        }
      });
    }
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return answered.size();
  }
  void wait_for(std::size_t n) {
    for (int i = 0; i < 2000 && count() < n; ++i) {
      std::this_thread::sleep_for(5ms);
    }
  }
  void finish() {
    stop = true;
    for (auto& t : threads) {
      t.join();
    }
  }
};

}  // namespace

TEST_CASE("SIGTERM under load: every answered call has its usage row", "[usage][shutdown]") {
  // Guards against: a shutdown that exits with usage rows still queued in memory.
  MockUpstream upstream(openai_json_handler());
  Server server(upstream);
  Load load;
  load.start(server.port, server.token, 4);
  load.wait_for(150);
  std::this_thread::sleep_for(500ms);
  REQUIRE(kill(server.pid, SIGTERM) == 0);
  int status = server.wait_exit();
  load.finish();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const auto answered = static_cast<int64_t>(load.count());
  INFO("answered " << answered);
  CHECK(answered >= 150);
  // No answered call may lack its row. A call in flight when SIGTERM arrived is still served
  // and recorded, but its client thread may stop counting before the answer lands: at most one
  // such call per client (4).
  const auto rows = server.rows();
  CHECK(rows >= answered);
  CHECK(rows <= answered + 4);
}

TEST_CASE("SIGKILL under load loses at most the last moments' rows", "[usage][shutdown]") {
  // Guards against: rows that wait in memory for a big batch or a timer, so that a crash loses
  // seconds of billing data.
  MockUpstream upstream(openai_json_handler());
  Server server(upstream);
  Load load;
  load.start(server.port, server.token, 4);
  load.wait_for(150);
  std::this_thread::sleep_for(1s);  // so the kill's window is a small part of the traffic
  const auto killed_at = Clock::now();
  REQUIRE(kill(server.pid, SIGKILL) == 0);
  server.wait_exit();
  load.finish();

  std::size_t answered = 0;
  std::size_t recent = 0;  // answered within the bound's window before the kill
  for (auto t : load.answered) {
    ++answered;
    if (t >= killed_at - 100ms) {
      ++recent;
    }
  }
  const int64_t rows = server.rows();
  std::printf(
      "SIGKILL under load: %zu answered, %lld rows stored, %zu answered in the last "
      "100 ms\n",
      answered, static_cast<long long>(rows), recent);
  CHECK(answered >= 150);
  CHECK(rows >= static_cast<int64_t>(answered - recent));
  CHECK(rows <= static_cast<int64_t>(answered + 4));  // at most the calls in flight beyond
}
