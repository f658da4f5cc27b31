// The end-to-end secret canary. Recognisable provider keys, keygate tokens and master keys go
// through every flow of the real binary over HTTP (key create/list/get/replace/test/delete, chat
// with the upstream answering 200, a 401 that echoes the key, a 500 that echoes it, token
// create/revoke, failed authentication, master-key rotation, SIGTERM). Afterwards the database
// file (and -wal / -shm), every log and the CLI's output are searched for each canary in raw,
// base64 (standard and url-safe, at every alignment) and hex form. One hit fails.
//
// Bugs it guards against: a key or token in a log line, an error body or an audit row; a key
// stored unsealed (or a token stored unhashed); an upstream's echo of the key relayed to the
// client; the master key written next to the data it protects.

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>

#include "keygate_process.hpp"
#include "keystore/master_key.hpp"
#include "keystore/tokens.hpp"
#include "schema/json.hpp"
#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"
#include "testing/mock_upstream.hpp"

using namespace keygate;
using namespace keygate::testing;
using namespace std::chrono_literals;

namespace {

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

enum Variant { kStandard, kUrlSafe };

// Padded base64 (RFC 4648 §4) or its url-safe alphabet (§5).
std::string base64(const std::string& bytes, Variant variant) {
  const char* alphabet = variant == kStandard
                             ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) {
      out += alphabet[(n >> shift) & 63];
    }
  }
  if (i < bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) {
      n |= uint8_t(bytes[i + 1]) << 8;
    }
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string hex(const std::string& bytes, bool upper) {
  static const char* lower_digits = "0123456789abcdef";
  static const char* upper_digits = "0123456789ABCDEF";
  const char* digits = upper ? upper_digits : lower_digits;
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Every form the secret could take inside a larger blob. Base64 depends on where the secret
// starts within a 3-byte group, so each of the three alignments is encoded and only the
// characters that depend on the secret alone are kept.
std::vector<std::pair<std::string, std::string>> encodings(const std::string& secret) {
  std::vector<std::pair<std::string, std::string>> out = {
      {"raw", secret}, {"hex", hex(secret, false)}, {"HEX", hex(secret, true)}};
  for (Variant variant : {kStandard, kUrlSafe}) {
    for (int offset = 0; offset < 3; ++offset) {
      std::string encoded = base64(std::string(offset, '\0') + secret, variant);
      encoded.erase(encoded.find_last_not_of('=') + 1);
      const std::size_t skip = offset == 0 ? 0 : 4;
      if (encoded.size() > skip + 8) {
        out.emplace_back(std::string(variant == kStandard ? "base64" : "base64url") + "@" +
                             std::to_string(offset),
                         encoded.substr(skip, encoded.size() - skip - 4));
      }
    }
  }
  return out;
}

struct Canary {
  std::string what;
  std::string secret;
};

struct Haystack {
  std::string where;
  std::string text;
};

// "canary X as base64@1 in keygate.db" for each hit.
std::vector<std::string> find_canaries(const std::vector<Canary>& canaries,
                                       const std::vector<Haystack>& haystacks) {
  std::vector<std::string> hits;
  for (const auto& c : canaries) {
    for (const auto& [form, needle] : encodings(c.secret)) {
      for (const auto& h : haystacks) {
        if (h.text.find(needle) != std::string::npos) {
          hits.push_back(c.what + " as " + form + " in " + h.where);
        }
      }
    }
  }
  return hits;
}

// The upstream answers by mode; 401 and 500 echo the key they were sent, as some providers and
// proxies do.
struct EchoingUpstream {
  std::atomic<int> mode{200};
  MockUpstream mock;
  EchoingUpstream()
      : mock([this](MockExchange& ex) -> net::awaitable<void> {
          const int m = mode.load();
          const std::string auth = ex.request.header("authorization");
          const std::string key = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : auth;
          if (m == 200) {
            if (ex.request.target.find("chat/completions") != std::string::npos) {
              const std::string body = openai_completion_json("canary ok");
              co_await ex.respond(200, body);
            } else {
              co_await ex.respond(200, R"({"object":"list","data":[{"id":"gpt-4o-mini"}]})");
            }
            co_return;
          }
          JsonWriter w;
          w.start_object();
          w.key("error");
          w.start_object();
          w.field("message", "Incorrect API key provided: " + key + " (header: " + auth + ")");
          w.field("type", m == 401 ? "invalid_request_error" : "server_error");
          w.field("code", m == 401 ? "invalid_api_key" : "internal");
          w.end_object();
          w.end_object();
          const std::string body = w.take();
          co_await ex.respond(m, body);
        }) {}
};

}  // namespace

TEST_CASE("the search finds what is there (positive control)", "[canary]") {
  const std::string secret = "sk-CANARY-control-0123456789abcdefXYZ";
  for (const auto& [form, needle] : encodings(secret)) {
    INFO(form);
    // Embedded at each alignment inside other bytes, encoded whole, as a database or log would.
    for (int offset = 0; offset < 3; ++offset) {
      const std::string blob = std::string("prefix") + std::string(offset, 'x') + secret + "tail";
      std::vector<Haystack> stack;
      if (form.rfind("base64url", 0) == 0) {
        stack.push_back({"blob", base64(blob, kUrlSafe)});
      } else if (form.rfind("base64", 0) == 0) {
        stack.push_back({"blob", base64(blob, kStandard)});
      } else if (form == "hex") {
        stack.push_back({"blob", hex(blob, false)});
      } else if (form == "HEX") {
        stack.push_back({"blob", hex(blob, true)});
      } else {
        stack.push_back({"blob", blob});
      }
      CHECK_FALSE(find_canaries({{"control", secret}}, stack).empty());
    }
  }
  CHECK(find_canaries({{"control", secret}}, {{"blob", "nothing to see here"}}).empty());
}

TEST_CASE("no key, token or master key leaks into the database, logs or CLI output",
          "[canary][slow]") {
  EchoingUpstream upstream;
  TempDir dir;
  const std::string work = dir.str();
  const std::string data = work + "/data";
  const std::string config = work + "/keygate.json";
  std::ofstream(config) << R"({"listen": "127.0.0.1:0", "threads": 2,
    "providers": {"openai": {"base_url": ")"
                        << upstream.mock.base_url("/v1") << R"("}}})";
  const std::map<std::string, std::string> env = {{"KEYGATE_MASTER_KEY", ""},
                                                  {"OPENAI_API_KEY", ""}};
  std::vector<Canary> canaries;
  std::vector<Haystack> outputs;  // CLI output and HTTP answers that must not hold secrets
  std::vector<std::string> logs;  // log files
  auto cli = [&](std::vector<std::string> args, const std::string& input = {},
                 bool stdout_is_a_token = false) {
    args.push_back("--data");
    args.push_back(data);
    auto r = run_cli(work, args, input, env);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit == 0);
    outputs.push_back({"stderr of keygate " + args[0], r.err});
    if (!stdout_is_a_token) {
      outputs.push_back({"stdout of keygate " + args[0], r.out});
    }
    return r;
  };

  // --- CLI, before the server runs ---
  const std::string admin_token = trim_line(cli({"init"}, {}, true).out);
  REQUIRE(admin_token.rfind("kg_", 0) == 0);
  canaries.push_back({"admin token (init)", admin_token});
  const std::string old_master = trim_line(slurp(data + "/master.key"));
  canaries.push_back({"old master key (base64)", old_master});
  {
    auto m = master_key_from_base64(old_master, "test");
    REQUIRE(m);
    canaries.push_back({"old master key (bytes)", std::string(m->key.expose())});
  }
  const std::string carol_token = trim_line(cli({"users", "add", "carol"}, {}, true).out);
  canaries.push_back({"carol token (CLI)", carol_token});
  const std::string cli_key = "sk-CANARYcliSystem0000000000000000000001";
  canaries.push_back({"system key (CLI)", cli_key});
  cli({"keys", "add", "--system", "--provider", "openai", "--name", "cli-system"}, cli_key);

  // --- the server ---
  auto serve_log = work + "/serve1.log";
  logs.push_back(serve_log);
  auto serve = std::make_unique<ServeProcess>(
      serve_log, std::vector<std::string>{"--data", data, "--config", config}, env);
  REQUIRE(serve->port() != 0);
  const uint16_t port = serve->port();
  auto req = [&](const std::string& token, const std::string& method, const std::string& path,
                 const std::string& body = {}, bool answer_holds_new_token = false) {
    auto r = http_request(port, method, path, body, {{"authorization", bearer(token)}});
    if (!answer_holds_new_token) {
      outputs.push_back({"answer to " + method + " " + path, r.body});
    }
    return r;
  };

  auto alice_r = req(admin_token, "POST", "/v1/admin/users", R"({"name": "alice"})", true);
  REQUIRE(alice_r.status == 201);
  const std::string alice_token = parse(alice_r.body)["token"].GetString();
  const std::string alice_id = parse(alice_r.body)["id"].GetString();
  canaries.push_back({"alice token (API)", alice_token});
  auto bob_r = req(admin_token, "POST", "/v1/admin/users", R"({"name": "bob"})", true);
  REQUIRE(bob_r.status == 201);
  const std::string bob_token = parse(bob_r.body)["token"].GetString();
  canaries.push_back({"bob token (API)", bob_token});
  auto extra_r = req(admin_token, "POST", "/v1/admin/users/" + alice_id + "/tokens",
                     R"({"name": "extra"})", true);
  REQUIRE(extra_r.status == 201);
  const std::string extra_token = parse(extra_r.body)["token"].GetString();
  const std::string extra_id = parse(extra_r.body)["id"].GetString();
  canaries.push_back({"extra token (API)", extra_token});
  CHECK(req(admin_token, "GET", "/v1/admin/users/" + alice_id + "/tokens").status == 200);
  CHECK(req(admin_token, "DELETE", "/v1/admin/tokens/" + extra_id).status == 204);
  CHECK(req(extra_token, "GET", "/v1/models").status == 401);

  // Failed authentication with secrets nobody issued: well-formed, garbage, header and query.
  const std::string unknown_token = generate_token();
  canaries.push_back({"unknown well-formed token", unknown_token});
  CHECK(req(unknown_token, "GET", "/v1/models").status == 401);
  const std::string garbage_token = "kg_CANARYgarbageTokenNotChecksummed0000000000000001";
  canaries.push_back({"garbage token", garbage_token});
  CHECK(req(garbage_token, "GET", "/v1/models").status == 401);
  {
    auto r = http_request(port, "GET", "/v1/models", {}, {{"x-api-key", unknown_token}});
    CHECK(r.status == 401);
    outputs.push_back({"answer to x-api-key", r.body});
    auto q = http_request(port, "GET", "/v1/models?api_key=" + garbage_token);
    CHECK(q.status == 400);
    outputs.push_back({"answer to ?api_key=", q.body});
  }

  // alice's own key: create, list, get, replace, test, chat, delete.
  const std::string user_key = "sk-CANARYaliceUser00000000000000000000001";
  const std::string patched_key = "sk-CANARYalicePatched000000000000000000002";
  canaries.push_back({"alice key", user_key});
  canaries.push_back({"alice key (replacement)", patched_key});
  auto created = req(alice_token, "POST", "/v1/keys",
                     R"({"provider": "openai", "name": "mine", "api_key": ")" + user_key + "\"}");
  REQUIRE(created.status == 201);
  const std::string key_id = parse(created.body)["id"].GetString();
  CHECK(req(alice_token, "GET", "/v1/keys").status == 200);
  CHECK(req(alice_token, "GET", "/v1/keys/" + key_id).status == 200);
  CHECK(req(alice_token, "GET", "/v1/keys/status").status == 200);
  auto chat = [&](const std::string& token, int mode, bool stream = false) {
    upstream.mode = mode;
    auto r = req(token, "POST", "/v1/chat/completions", chat_body("openai/gpt-4o-mini", stream));
    INFO(r.body);
    if (mode == 200) {
      CHECK(r.status == 200);
    } else {
      CHECK(r.status >= 400);  // its exact mapping is the proxy tests' business
    }
    return r;
  };
  chat(alice_token, 200);
  CHECK(upstream.mock.requests().back().header("authorization") == "Bearer " + user_key);
  chat(alice_token, 401);
  chat(alice_token, 500);
  chat(alice_token, 500, true);
  upstream.mode = 200;
  CHECK(req(alice_token, "POST", "/v1/keys/" + key_id + "/test").status == 200);
  upstream.mode = 401;
  CHECK(req(alice_token, "POST", "/v1/keys/" + key_id + "/test").status == 200);
  CHECK(req(alice_token, "PATCH", "/v1/keys/" + key_id,
            R"({"api_key": ")" + patched_key + R"(", "is_active": true})")
            .status == 200);
  chat(alice_token, 200);
  CHECK(upstream.mock.requests().back().header("authorization") == "Bearer " + patched_key);
  chat(alice_token, 401);
  CHECK(req(alice_token, "DELETE", "/v1/keys/" + key_id).status == 204);

  // A system key over the admin API, used by bob (who has none of his own).
  const std::string admin_key = "sk-CANARYadminSystem00000000000000000003";
  canaries.push_back({"system key (API)", admin_key});
  auto sys = req(admin_token, "POST", "/v1/admin/keys",
                 R"({"provider": "openai", "name": "sys", "api_key": ")" + admin_key + "\"}");
  REQUIRE(sys.status == 201);
  const std::string sys_id = parse(sys.body)["id"].GetString();
  CHECK(req(admin_token, "GET", "/v1/admin/keys").status == 200);
  upstream.mode = 200;
  CHECK(req(admin_token, "POST", "/v1/admin/keys/" + sys_id + "/test").status == 200);
  chat(bob_token, 200);
  chat(bob_token, 401);
  chat(bob_token, 500);
  CHECK(req(admin_token, "GET", "/v1/admin/audit").status == 200);
  CHECK(req(admin_token, "DELETE", "/v1/admin/keys/" + sys_id).status == 204);
  CHECK(serve->stop() == 0);
  outputs.push_back({"stdout of serve 1", serve->stdout_text()});
  serve.reset();

  // --- rotation while stopped, then serve again under the new key ---
  const std::string new_key_file = work + "/new-master.key";
  REQUIRE(create_master_key_file(new_key_file));
  const std::string new_master = trim_line(slurp(new_key_file));
  canaries.push_back({"new master key (base64)", new_master});
  {
    auto m = master_key_from_base64(new_master, "test");
    REQUIRE(m);
    canaries.push_back({"new master key (bytes)", std::string(m->key.expose())});
  }
  cli({"rotate-master-key", "--new-key-file", new_key_file});
  std::filesystem::remove(data + "/master.key");
  std::filesystem::copy_file(new_key_file, data + "/master.key");
  std::filesystem::permissions(data + "/master.key", std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);
  // The operator's listings, under the new key.
  cli({"users", "list"});
  cli({"tokens", "list", "alice"});
  cli({"keys", "list", "--system"});
  auto serve2_log = work + "/serve2.log";
  logs.push_back(serve2_log);
  ServeProcess serve2(serve2_log, {"--data", data, "--config", config}, env);
  REQUIRE(serve2.port() != 0);
  {
    // Tokens survive the rotation, and the CLI's system key still decrypts under the new key.
    upstream.mode = 200;
    auto r = http_request(serve2.port(), "POST", "/v1/chat/completions", chat_body(),
                          {{"authorization", bearer(bob_token)}});
    CHECK(r.status == 200);
    outputs.push_back({"answer after rotation", r.body});
    CHECK(upstream.mock.requests().back().header("authorization") == "Bearer " + cli_key);
    auto bad = http_request(serve2.port(), "GET", "/v1/models", {},
                            {{"authorization", bearer(extra_token)}});
    CHECK(bad.status == 401);
  }
  CHECK(serve2.stop() == 0);
  outputs.push_back({"stdout of serve 2", serve2.stdout_text()});

  // --- the search ---
  std::vector<Haystack> haystacks = outputs;
  for (const auto& log : logs) {
    haystacks.push_back({log, slurp(log)});
  }
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string path = data + "/keygate.db" + suffix;
    if (std::filesystem::exists(path)) {
      haystacks.push_back({path, slurp(path)});
    }
  }
  REQUIRE(haystacks.size() > 10);
  // Positive control on the real files: a user name is stored in the clear, so the search of the
  // very same bytes must find it.
  bool db_seen = false;
  for (const auto& h : haystacks) {
    if (h.where == data + "/keygate.db") {
      db_seen = true;
      CHECK(h.text.size() > 4096);
      CHECK_FALSE(find_canaries({{"user name", "alice"}}, {h}).empty());
      CHECK_FALSE(find_canaries({{"user name", "carol"}}, {h}).empty());
    }
  }
  CHECK(db_seen);
  bool log_has_requests = false;
  for (const auto& log : logs) {
    log_has_requests =
        log_has_requests || slurp(log).find("/v1/chat/completions") != std::string::npos;
  }
  CHECK(log_has_requests);

  auto hits = find_canaries(canaries, haystacks);
  for (const auto& hit : hits) {
    FAIL_CHECK("secret found: " << hit);
  }
  CHECK(hits.empty());
  CHECK(canaries.size() >= 15);
}
