// SIGTERM against the real `keygate serve` process: it stops accepting, lets a stream in flight
// finish, and exits 0.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

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

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("SIGTERM drains a stream in flight, then exits 0", "[shutdown]") {
  MockUpstream upstream(openai_stream_handler(8, 150ms));  // about 1.2 s of stream
  TempDir dir;
  std::string data = dir.str() + "/data";
  std::string config = dir.str() + "/keygate.json";
  std::ofstream(config) << R"({"listen": "127.0.0.1:0", "threads": 2,
    "providers": {"openai": {"base_url": ")" << upstream.base_url("/v1") << R"("}}})";
  std::string token = run_capture(std::string(KEYGATE_BINARY) + " init --data " + data);
  while (!token.empty() && (token.back() == '\n')) {
    token.pop_back();
  }
  REQUIRE(token.rfind("kg_", 0) == 0);

  std::string log = dir.str() + "/serve.log";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    setenv("OPENAI_API_KEY", "sk-env-shutdown-test-00000000001234", 1);
    execl(KEYGATE_BINARY, KEYGATE_BINARY, "serve", "--data", data.c_str(), "--config",
          config.c_str(), nullptr);
    _exit(127);
  }
  REQUIRE(pid > 0);
  uint16_t port = 0;
  std::regex port_re(R"("msg":"listening".*"port":(\d+))");
  for (int i = 0; i < 100 && port == 0; ++i) {
    std::this_thread::sleep_for(50ms);
    std::smatch m;
    auto text = read_file(log);
    if (std::regex_search(text, m, port_re)) {
      port = static_cast<uint16_t>(std::stoi(m[1]));
    }
  }
  REQUIRE(port != 0);

  HttpConnection conn(port);
  conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
            {{"authorization", bearer(token)}});
  REQUIRE(conn.read_header() == 200);
  REQUIRE_FALSE(conn.read_some().empty());

  REQUIRE(kill(pid, SIGTERM) == 0);
  std::this_thread::sleep_for(100ms);
  // New connections are refused while draining.
  bool refused = false;
  try {
    HttpConnection late(port);
    late.send("GET", "/healthz", "");
    refused = late.read_header(1000ms) == 0;
  } catch (const std::exception&) {
    refused = true;
  }
  CHECK(refused);
  // The stream in flight completes.
  auto rest = conn.read_rest(10s);
  CHECK(rest.find("[DONE]") != std::string::npos);
  CHECK(rest.find("tok7") != std::string::npos);

  int status = 0;
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  auto text = read_file(log);
  CHECK(text.find("\"msg\":\"stopped\"") != std::string::npos);
  // The log names neither the token nor the provider key.
  CHECK(text.find(token) == std::string::npos);
  CHECK(text.find("sk-env-shutdown-test") == std::string::npos);
}
