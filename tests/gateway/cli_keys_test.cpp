// `keygate keys test KEY_ID` as an operator runs it: the real binary, a real data directory, and
// a mock OpenAI upstream that accepts one key and refuses another with an echo of it.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "keygate_process.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate::testing;

namespace {

constexpr const char* kGoodKey = "sk-abc1234567890goodkeyAAAAAAAgood";
constexpr const char* kBadKey = "sk-abc1234567890badkeyBBBBBBBBwxyz";

MockHandler accept_only_good_key() {
  return [](MockExchange& ex) -> net::awaitable<void> {
    if (ex.request.header("authorization") == std::string("Bearer ") + kGoodKey) {
      const std::string body = R"({"object":"list","data":[]})";
      co_await ex.respond(200, body);
      co_return;
    }
    const std::string body =
        R"({"error":{"message":"Incorrect API key provided: sk-abc***wxyz.","type":"invalid_request_error","code":"invalid_api_key"}})";
    co_await ex.respond(401, body);
  };
}

std::string first_word(const std::string& s) {
  return s.substr(0, s.find(' '));
}

}  // namespace

TEST_CASE("keygate keys test reports and records the upstream's verdict", "[keys][cli]") {
  // Bugs guarded: the CLI test leaking the upstream's echo of the key; a refused key left active.
  MockUpstream upstream(accept_only_good_key());
  TempDir dir;
  const std::string data = dir.str() + "/data";
  const std::string config = dir.str() + "/keygate.json";
  std::ofstream(config) << R"({"providers": {"openai": {"base_url": ")" << upstream.base_url("/v1")
                        << R"("}}})";
  REQUIRE(run_cli(dir.str(), {"init", "--data", data}).exit == 0);
  auto add_good = run_cli(
      dir.str(), {"keys", "add", "--system", "--provider", "openai", "--data", data}, kGoodKey);
  auto add_bad = run_cli(
      dir.str(), {"keys", "add", "--system", "--provider", "openai", "--data", data}, kBadKey);
  REQUIRE(add_good.exit == 0);
  REQUIRE(add_bad.exit == 0);
  const std::string good_id = first_word(add_good.out);
  const std::string bad_id = first_word(add_bad.out);

  auto good = run_cli(dir.str(), {"keys", "test", good_id, "--data", data, "--config", config});
  INFO(good.out << good.err);
  CHECK(good.exit == 0);
  CHECK(good.out.find("ok " + good_id) != std::string::npos);

  auto bad = run_cli(dir.str(), {"keys", "test", bad_id, "--data", data, "--config", config});
  INFO(bad.out << bad.err);
  CHECK(bad.exit != 0);
  CHECK(bad.out.find("HTTP 401") != std::string::npos);
  CHECK(bad.out.find("[redacted]") != std::string::npos);
  CHECK((bad.out + bad.err).find("sk-abc***") == std::string::npos);
  CHECK((bad.out + bad.err).find("1234567890") == std::string::npos);

  auto missing = run_cli(dir.str(), {"keys", "test", "key_nope", "--data", data});
  CHECK(missing.exit != 0);
  CHECK(missing.err.find("key_nope") != std::string::npos);

  auto list = run_cli(dir.str(), {"keys", "list", "--system", "--data", data});
  REQUIRE(list.exit == 0);
  std::istringstream lines(list.out);
  std::string line;
  int seen = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(good_id, 0) == 0) {
      CHECK(line.find("active") != std::string::npos);
      ++seen;
    }
    if (line.rfind(bad_id, 0) == 0) {
      CHECK(line.find("error") != std::string::npos);
      ++seen;
    }
  }
  CHECK(seen == 2);
  CHECK(upstream.request_count() == 2);
}
