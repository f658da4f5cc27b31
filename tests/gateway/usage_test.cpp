// Usage recording and reports end to end: keygate in-process, a mock OpenAI upstream on loopback,
// rows in the real SQLite file, reports over HTTP (JSON and CSV), and who may see what.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "keystore/sqlite.hpp"
#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

struct UsageFixture {
  MockUpstream upstream;
  std::unique_ptr<TestGateway> gw;
  explicit UsageFixture(MockHandler handler) : upstream(std::move(handler)) {
    setenv("OPENAI_API_KEY", "sk-env-usage-test-000000000001234", 1);
    GatewayOptions options;
    options.base_urls = {{"openai", upstream.base_url("/v1")}};
    gw = std::make_unique<TestGateway>(options);
  }
  HttpResponse chat(const std::string& token, bool stream = false) {
    return http_request(gw->port(), "POST", "/v1/chat/completions",
                        chat_body("openai/gpt-4o-mini", stream),
                        {{"authorization", bearer(token)}});
  }
  HttpResponse get(const std::string& token, const std::string& target) {
    return http_request(gw->port(), "GET", target, "", {{"authorization", bearer(token)}});
  }
  std::string db_path() const { return gw->data_dir() + "/keygate.db"; }

  int64_t scalar(const std::string& sql) { return gw->query_int(sql); }
  int64_t wait_rows(int64_t n) { return gw->wait_usage_rows(n); }
};

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

std::vector<std::string> lines_of(const std::string& csv) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < csv.size()) {
    auto end = csv.find("\r\n", start);
    if (end == std::string::npos) {
      end = csv.size();
    }
    lines.push_back(csv.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) {
    cells.push_back(cell);
  }
  if (!line.empty() && line.back() == ',') {
    cells.emplace_back();
  }
  return cells;
}

}  // namespace

TEST_CASE("usage sums equal what the upstream reported, stream and non-stream", "[usage]") {
  // Guards against: stream usage not recorded (or recorded as zero), cost not priced from the
  // catalog, and rows written before the report could see them.
  UsageFixture f(openai_json_handler("hello"));
  REQUIRE(f.chat(f.gw->user_token).status == 200);  // mock reports 5 prompt / 7 completion
  REQUIRE(f.chat(f.gw->user_token).status == 200);
  f.upstream.set_handler(openai_stream_handler(4));  // 5 prompt / 4 completion (include_usage)
  auto streamed = f.chat(f.gw->user_token, true);
  REQUIRE(streamed.status == 200);
  REQUIRE(f.wait_rows(3) == 3);

  auto r = f.get(f.gw->user_token, "/v1/usage?group_by=provider,model");
  REQUIRE(r.status == 200);
  auto d = parse(r.body);
  REQUIRE(d.IsObject());
  REQUIRE(d["data"].Size() == 1);
  const auto& row = d["data"][0];
  CHECK(std::string(row["provider"].GetString()) == "openai");
  CHECK(std::string(row["model"].GetString()) == "gpt-4o-mini");
  CHECK(row["requests"].GetInt() == 3);
  CHECK(row["errors"].GetInt() == 0);
  CHECK(row["prompt_tokens"].GetInt() == 15);
  CHECK(row["completion_tokens"].GetInt() == 18);
  CHECK(row["total_tokens"].GetInt() == 33);
  // gpt-4o-mini: $0.15 in / $0.60 out per million tokens (catalog).
  CHECK(row["cost_usd"].GetDouble() == Approx((15 * 0.15 + 18 * 0.6) / 1e6));
  CHECK(row["latency_ms_p50"].IsInt64());
  CHECK(row["latency_ms_p95"].IsInt64());
  CHECK(d["totals"]["requests"].GetInt() == 3);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE stream = 1 AND usage_known = 'reported' AND "
                 "ttft_ms IS NOT NULL AND key_source = 'env' AND day = strftime('%Y-%m-%d', "
                 "'now')") == 1);

  // Every answer says how long keygate itself took.
  for (const auto* resp : {&streamed, &r}) {
    auto overhead = resp->header("x-keygate-overhead-ms");
    REQUIRE_FALSE(overhead.empty());
    CHECK(std::stod(overhead) >= 0.0);
  }
}

TEST_CASE("a Claude call is priced by its cache reads, cache writes and web searches", "[usage]") {
  // Guards against: Claude Code's sessions (a dated model name, nearly all of the prompt read
  // from the cache, web searches) recorded with no cost, or at the full input price.
  MockUpstream claude([](MockExchange& ex) -> net::awaitable<void> {
    const std::string body =
        R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",)"
        R"("content":[{"type":"text","text":"Found it."}],"stop_reason":"end_turn",)"
        R"("stop_sequence":null,"usage":{"input_tokens":1000,"cache_read_input_tokens":90000,)"
        R"("cache_creation_input_tokens":5000,"cache_creation":{"ephemeral_5m_input_tokens":3000,)"
        R"("ephemeral_1h_input_tokens":2000},"output_tokens":500,)"
        R"("server_tool_use":{"web_search_requests":2}}})";
    co_await ex.respond(200, body);
  });
  GatewayOptions options;
  options.base_urls = {{"anthropic", claude.base_url("")}};
  TestGateway gw(options);
  REQUIRE(gw.keystore().create_key(gw.user_id, "anthropic",
                                   SecretKey("sk-ant-usage-test-00000000000000001"), "mine", "",
                                   std::nullopt));
  auto r = http_request(gw.port(), "POST", "/v1/messages",
                        R"({"model":"claude-sonnet-4-5-20250929","max_tokens":64,)"
                        R"("messages":[{"role":"user","content":"search"}]})",
                        {{"x-api-key", gw.user_token}, {"anthropic-version", "2023-06-01"}});
  REQUIRE(r.status == 200);

  auto db = sqlite::Database::open(gw.data_dir() + "/keygate.db");
  REQUIRE(db.has_value());
  auto query = [&](const std::string& sql) {
    auto s = db->prepare(sql);
    REQUIRE(s.has_value());
    REQUIRE(s->step().value());
    return s->column_double(0);
  };
  for (int i = 0; i < 250 && query("SELECT count(*) FROM usage") < 1; ++i) {
    gw.app().usage().flush();
    std::this_thread::sleep_for(20ms);
  }
  // Sonnet 4.5 ($/M): input 3, cache read 0.30, 5-minute write 3.75, 1-hour write 6, output 15;
  // a search $0.01.
  const double expected =
      (1000 * 3.0 + 90000 * 0.30 + 3000 * 3.75 + 2000 * 6.0 + 500 * 15.0) / 1e6 + 2 * 0.01;
  CHECK(query("SELECT count(*) FROM usage WHERE prompt_tokens = 96000 AND cached_tokens = 90000 "
              "AND cache_write_tokens = 5000 AND web_search_requests = 2 AND "
              "completion_tokens = 500 AND model_served = 'claude-sonnet-4-5-20250929'") == 1);
  CHECK(query("SELECT cost_usd FROM usage") == Approx(expected));

  auto report = http_request(gw.port(), "GET", "/v1/usage?group_by=model", "",
                             {{"authorization", bearer(gw.user_token)}});
  REQUIRE(report.status == 200);
  auto d = parse(report.body);
  REQUIRE(d.IsObject());
  const auto& totals = d["totals"];
  CHECK(totals["cost_usd"].GetDouble() == Approx(expected));
  CHECK(totals["cached_tokens"].GetInt64() == 90000);
  CHECK(totals["cache_write_tokens"].GetInt64() == 5000);
  CHECK(totals["web_search_requests"].GetInt64() == 2);
  CHECK(totals["unpriced"].GetInt64() == 0);
}

TEST_CASE("failed and cancelled upstream calls leave rows with their outcome", "[usage]") {
  // Guards against: only successful calls being billed/visible, and errors recorded as "ok".
  UsageFixture f([](MockExchange& ex) -> boost::asio::awaitable<void> {
    co_await ex.respond(400, R"({"error": {"message": "bad", "type": "invalid_request_error"}})");
  });
  REQUIRE(f.chat(f.gw->user_token).status == 400);
  REQUIRE(f.wait_rows(1) == 1);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE outcome = 'upstream_error' AND "
                 "upstream_status = 400 AND usage_known = 'unknown' AND cost_usd IS NULL") == 1);

  // A client that hangs up mid-stream.
  f.upstream.set_handler(openai_stream_handler(50, 100ms));
  {
    HttpConnection conn(f.gw->port());
    conn.send("POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", true),
              {{"authorization", bearer(f.gw->user_token)}});
    REQUIRE(conn.read_header() == 200);
    REQUIRE_FALSE(conn.read_some().empty());
    conn.close();
  }
  REQUIRE(f.wait_rows(2) == 2);
  CHECK(f.scalar("SELECT count(*) FROM usage WHERE outcome = 'client_cancelled' AND stream = 1") ==
        1);

  auto r = f.get(f.gw->user_token, "/v1/usage?group_by=provider");
  REQUIRE(r.status == 200);
  auto d = parse(r.body);
  CHECK(d["totals"]["requests"].GetInt() == 2);
  CHECK(d["totals"]["errors"].GetInt() == 2);
  CHECK(d["totals"]["unknown_usage"].GetInt() >= 1);
}

TEST_CASE("a user sees only their own usage; admins see everyone's", "[usage]") {
  // Guards against: /v1/usage leaking other users' rows, directly or through the user filter.
  UsageFixture f(openai_json_handler());
  REQUIRE(f.chat(f.gw->user_token).status == 200);   // alice
  REQUIRE(f.chat(f.gw->user_token).status == 200);   // alice
  REQUIRE(f.chat(f.gw->other_token).status == 200);  // bob
  REQUIRE(f.wait_rows(3) == 3);

  auto bob = parse(f.get(f.gw->other_token, "/v1/usage?group_by=user").body);
  REQUIRE(bob["data"].Size() == 1);
  CHECK(std::string(bob["data"][0]["user"].GetString()) == "bob");
  CHECK(bob["totals"]["requests"].GetInt() == 1);

  auto widened = f.get(f.gw->other_token, "/v1/usage?user=alice&group_by=user");
  REQUIRE(widened.status == 200);
  auto w = parse(widened.body);
  CHECK(w["data"].Size() == 0);
  CHECK(w["totals"]["requests"].GetInt() == 0);

  CHECK(f.get(f.gw->other_token, "/v1/admin/usage").status == 403);

  auto all = parse(f.get(f.gw->admin_token, "/v1/admin/usage?group_by=user").body);
  REQUIRE(all["data"].Size() == 2);
  CHECK(std::string(all["data"][0]["user"].GetString()) == "alice");
  CHECK(all["data"][0]["requests"].GetInt() == 2);
  CHECK(std::string(all["data"][1]["user"].GetString()) == "bob");
  CHECK(all["data"][1]["requests"].GetInt() == 1);

  auto only_alice = parse(f.get(f.gw->admin_token, "/v1/admin/usage?user=alice").body);
  CHECK(only_alice["totals"]["requests"].GetInt() == 2);
}

TEST_CASE("CSV report has the JSON's columns and one line per row", "[usage]") {
  // Guards against: a CSV whose header and rows disagree, or that a spreadsheet cannot import.
  UsageFixture f(openai_json_handler());
  REQUIRE(f.chat(f.gw->user_token).status == 200);
  REQUIRE(f.chat(f.gw->other_token).status == 200);
  REQUIRE(f.wait_rows(2) == 2);

  auto json = parse(f.get(f.gw->admin_token, "/v1/admin/usage?group_by=user,day").body);
  auto csv = f.get(f.gw->admin_token, "/v1/admin/usage?group_by=user,day&format=csv");
  REQUIRE(csv.status == 200);
  CHECK(csv.header("content-type").rfind("text/csv", 0) == 0);
  auto lines = lines_of(csv.body);
  REQUIRE(lines.size() == 1 + json["data"].Size());
  auto header = cells_of(lines[0]);
  std::vector<std::string> json_fields;
  for (auto it = json["data"][0].MemberBegin(); it != json["data"][0].MemberEnd(); ++it) {
    json_fields.emplace_back(it->name.GetString());
  }
  CHECK(header == json_fields);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    CHECK(cells_of(lines[i]).size() == header.size());
  }
  CHECK(cells_of(lines[1])[0] == "alice");
  CHECK(cells_of(lines[2])[0] == "bob");
}

TEST_CASE("bad report parameters answer 400 in OpenAI's error shape", "[usage]") {
  // Guards against: a typo in a query parameter crashing the handler or being ignored silently.
  UsageFixture f(openai_json_handler());
  for (const char* target : {"/v1/usage?group_by=colour", "/v1/usage?from=yesterday",
                             "/v1/usage?format=xml", "/v1/usage?from=2026-02-01&to=2026-01-01"}) {
    auto r = f.get(f.gw->user_token, target);
    INFO(target);
    CHECK(r.status == 400);
    auto d = parse(r.body);
    CHECK((d.IsObject() && d.HasMember("error")));
  }
  CHECK(f.get(f.gw->user_token, "/v1/usage?from=2026-01-01&to=2026-01-31T00:00:00Z").status == 200);
  CHECK(http_request(f.gw->port(), "GET", "/v1/usage").status == 401);
}

TEST_CASE("keygate usage prints the same report from the command line", "[usage][cli]") {
  // Guards against: the operator's CLI report disagreeing with the HTTP one.
  UsageFixture f(openai_json_handler());
  REQUIRE(f.chat(f.gw->user_token).status == 200);
  REQUIRE(f.chat(f.gw->other_token).status == 200);
  REQUIRE(f.wait_rows(2) == 2);
  std::string out;
  const std::string command = std::string(KEYGATE_BINARY) + " usage --data " + f.gw->data_dir() +
                              " --by user --format csv 2>/dev/null";
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (fgets(buf, sizeof buf, p)) {
    out += buf;
  }
  CHECK(pclose(p) == 0);
  auto lines = lines_of(out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("user,requests,errors,prompt_tokens,completion_tokens,total_tokens,", 0) ==
        0);
  CHECK(lines[1].rfind("alice,1,0,5,7,12,", 0) == 0);
  CHECK(lines[2].rfind("bob,1,0,5,7,12,", 0) == 0);
}
