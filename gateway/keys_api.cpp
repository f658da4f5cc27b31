// The key-management API: a user's own provider keys under /v1/keys, the operator's system keys
// under /v1/admin/keys (same shapes), which key a request would use (/v1/keys/status), and key
// tests. See the contract's "Keys" section.
//
// Secrets: the plaintext key arrives only in POST and PATCH bodies and leaves only towards the
// provider in a key test. No response, log line, audit row or error message carries it.

#include <rapidjson/error/en.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "gateway/api_context.hpp"
#include "gateway/key_test.hpp"
#include "gateway/log.hpp"
#include "providers/key_format.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

constexpr std::size_t kMaxName = 100;
constexpr std::size_t kMaxDescription = 1000;
constexpr std::size_t kTestsPerWindow = 10;
constexpr auto kTestWindow = std::chrono::seconds(60);

// Which keys a route works on: the caller's own, or the system's (admin routes).
enum class Scope { user, system };

Owner owner_for(const HttpExchange& ex, Scope scope) {
  return scope == Scope::user ? Owner{ex.caller.user_id} : Owner{};
}

// Key tests cost the provider a call and can be used to probe keys: at most 10 a minute per
// caller, in a sliding window kept in memory (a restart forgets it, which is harmless).
class TestRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // 0 when the test may run (it is counted); else the seconds until one may.
  int64_t acquire(const std::string& user_id) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    auto& attempts = attempts_[user_id];
    while (!attempts.empty() && now - attempts.front() >= kTestWindow) {
      attempts.pop_front();
    }
    if (attempts.size() >= kTestsPerWindow) {
      const auto wait = kTestWindow - (now - attempts.front());
      const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
      return std::max<int64_t>(1, seconds);
    }
    attempts.push_back(now);
    return 0;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::deque<Clock::time_point>> attempts_;
};

// --- JSON out --------------------------------------------------------------------------------

void time_field(JsonWriter& w, std::string_view name, const std::optional<int64_t>& t) {
  w.key(name);
  if (t) {
    w.string(format_rfc3339(*t));
  } else {
    w.null();
  }
}

void write_key(JsonWriter& w, const KeyRecord& k, int64_t now) {
  w.start_object();
  w.field("id", k.id);
  w.field("provider", k.provider);
  w.field("scope", k.scope);
  w.field("name", k.name);
  w.field("description", k.description);
  w.field("masked", k.masked);
  w.field("status", k.effective_status(now));
  time_field(w, "expires_at", k.expires_at);
  time_field(w, "created_at", k.created_at);
  time_field(w, "updated_at", k.updated_at);
  time_field(w, "last_used_at", k.last_used_at);
  time_field(w, "last_tested_at", k.last_tested_at);
  // Our own text ("upstream refused the key (HTTP 401)"), never the provider's.
  w.field_or_null("last_error", k.last_error);
  w.end_object();
}

std::string key_json(const KeyRecord& k) {
  JsonWriter w;
  write_key(w, k, now_unix());
  return w.take();
}

// --- JSON in ---------------------------------------------------------------------------------

// The request body lives in the exchange as a const string that the connection owns and frees
// after the reply, so its bytes cannot be wiped from here. What we can do: parse a copy IN PLACE
// (RapidJSON's strings then point into the copy, never into the document's own allocator), take
// the key into a SecretKey at once, and wipe the copy before anything else happens.
class BodyCopy {
 public:
  explicit BodyCopy(const std::string& body) : text_(body) {}
  ~BodyCopy() { wipe(); }
  BodyCopy(const BodyCopy&) = delete;
  BodyCopy& operator=(const BodyCopy&) = delete;

  Result<void> parse() {
    if (nested_too_deep(text_)) {
      return fail(Error::invalid_request("Invalid JSON: arrays and objects nest deeper than " +
                                             std::to_string(kMaxJsonDepth) + " levels.",
                                         {}, "invalid_json"));
    }
    doc_.ParseInsitu(text_.data());
    if (doc_.HasParseError()) {
      return fail(Error::invalid_request(std::string("Invalid JSON at offset ") +
                                             std::to_string(doc_.GetErrorOffset()) + ": " +
                                             rapidjson::GetParseError_En(doc_.GetParseError()),
                                         {}, "invalid_json"));
    }
    if (!doc_.IsObject()) {
      return fail(Error::invalid_request("The JSON body must be an object.", {}, "invalid_json"));
    }
    return {};
  }
  const rapidjson::Document& doc() const { return doc_; }
  void wipe() {
    doc_.SetNull();
    explicit_bzero(text_.data(), text_.size());
  }

 private:
  std::string text_;
  rapidjson::Document doc_;
};

Result<void> only_fields(const rapidjson::Value& doc,
                         std::initializer_list<std::string_view> allowed) {
  for (const auto& member : doc.GetObject()) {
    std::string_view name = as_view(member.name);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string list;
      for (auto a : allowed) {
        list += list.empty() ? "" : ", ";
        list += a;
      }
      std::string shown(name.substr(0, 64));
      return fail(Error::invalid_request("Unknown field '" + shown + "'. Allowed: " + list + ".",
                                         shown, "unknown_field"));
    }
  }
  return {};
}

Result<void> check_length(const std::optional<std::string>& value, const char* field,
                          std::size_t max) {
  if (value && value->size() > max) {
    return fail(Error::invalid_request(
        std::string("'") + field + "' must be at most " + std::to_string(max) + " characters.",
        field, "too_long"));
  }
  return {};
}

// expires_at: absent → nullopt; null → set to "never"; an RFC 3339 string → that time.
Result<std::optional<std::optional<int64_t>>> read_expiry(const rapidjson::Value& doc) {
  auto it = doc.FindMember("expires_at");
  if (it == doc.MemberEnd()) {
    return std::optional<std::optional<int64_t>>{};
  }
  if (it->value.IsNull()) {
    return std::optional<std::optional<int64_t>>{std::optional<int64_t>{}};
  }
  if (!it->value.IsString()) {
    return fail(Error::invalid_request("'expires_at' must be an RFC 3339 time or null.",
                                       "expires_at", "invalid_type"));
  }
  auto t = parse_rfc3339(as_view(it->value));
  if (!t) {
    Error e = t.error();
    e.param = "expires_at";
    e.message = "'expires_at': " + e.message;
    return fail(std::move(e));
  }
  return std::optional<std::optional<int64_t>>{std::optional<int64_t>{*t}};
}

// The key itself, straight into protected memory. The intermediate std::string is wiped by take().
Result<std::optional<SecretKey>> read_api_key(const rapidjson::Value& doc) {
  auto it = doc.FindMember("api_key");
  if (it == doc.MemberEnd()) {
    return std::optional<SecretKey>{};
  }
  if (!it->value.IsString()) {
    return fail(Error::invalid_request("'api_key' must be a string.", "api_key", "invalid_type"));
  }
  std::string copy(as_view(it->value));
  return std::optional<SecretKey>{SecretKey::take(copy)};
}

std::string known_providers(const providers::Catalog& catalog) {
  std::string list;
  for (const auto& p : catalog.providers()) {
    list += list.empty() ? "" : ", ";
    list += p.id;
  }
  return list;
}

struct CreateInput {
  const providers::Provider* provider = nullptr;
  SecretKey api_key;
  std::string name;
  std::string description;
  std::optional<int64_t> expires_at;
  int64_t priority = 100;
};

Result<CreateInput> read_create(const rapidjson::Value& doc, const providers::Catalog& catalog) {
  if (auto ok = only_fields(
          doc, {"provider", "api_key", "name", "description", "expires_at", "priority"});
      !ok) {
    return fail(ok.error());
  }
  CreateInput in;
  auto provider = get_string(doc, "provider");
  if (!provider) {
    return fail(provider.error());
  }
  if (!*provider || (*provider)->empty()) {
    return fail(Error::invalid_request(
        "'provider' is required. Known providers: " + known_providers(catalog) + ".", "provider",
        "missing_field"));
  }
  in.provider = catalog.find(**provider);
  if (in.provider == nullptr) {
    std::string shown = (*provider)->substr(0, 64);
    return fail(Error::invalid_request(
        "Unknown provider '" + shown + "'. Known providers: " + known_providers(catalog) + ".",
        "provider", "unknown_provider"));
  }
  auto key = read_api_key(doc);
  if (!key) {
    return fail(key.error());
  }
  if (!*key) {
    return fail(Error::invalid_request("'api_key' is required.", "api_key", "missing_field"));
  }
  if (auto ok = providers::validate_provider_key(*in.provider, (*key)->expose()); !ok) {
    return fail(ok.error());
  }
  in.api_key = std::move(**key);
  auto name = get_string(doc, "name");
  auto description = get_string(doc, "description");
  if (!name) {
    return fail(name.error());
  }
  if (!description) {
    return fail(description.error());
  }
  if (auto ok = check_length(*name, "name", kMaxName); !ok) {
    return fail(ok.error());
  }
  if (auto ok = check_length(*description, "description", kMaxDescription); !ok) {
    return fail(ok.error());
  }
  in.name = name->value_or(in.provider->display_name + " key");
  in.description = description->value_or("");
  auto expiry = read_expiry(doc);
  if (!expiry) {
    return fail(expiry.error());
  }
  in.expires_at = expiry->value_or(std::nullopt);
  auto priority = get_int(doc, "priority");
  if (!priority) {
    return fail(priority.error());
  }
  if (*priority) {
    in.priority = **priority;
  }
  return in;
}

Result<KeyPatch> read_patch(const rapidjson::Value& doc) {
  if (auto ok = only_fields(doc, {"name", "description", "is_active", "expires_at", "api_key"});
      !ok) {
    return fail(ok.error());
  }
  KeyPatch patch;
  auto name = get_string(doc, "name");
  auto description = get_string(doc, "description");
  auto active = get_bool(doc, "is_active");
  if (!name) {
    return fail(name.error());
  }
  if (!description) {
    return fail(description.error());
  }
  if (!active) {
    return fail(active.error());
  }
  if (auto ok = check_length(*name, "name", kMaxName); !ok) {
    return fail(ok.error());
  }
  if (auto ok = check_length(*description, "description", kMaxDescription); !ok) {
    return fail(ok.error());
  }
  patch.name = *name;
  patch.description = *description;
  patch.is_active = *active;
  auto expiry = read_expiry(doc);
  if (!expiry) {
    return fail(expiry.error());
  }
  patch.expires_at = *expiry;
  auto key = read_api_key(doc);
  if (!key) {
    return fail(key.error());
  }
  patch.api_key = std::move(*key);
  return patch;
}

// --- audit -----------------------------------------------------------------------------------

// Called on the database pool. An audit failure does not undo the operation; it is logged.
void audit(Keystore& keystore, const HttpExchange& ex, std::string action, std::string key_id,
           std::string detail) {
  AuditEntry entry;
  entry.actor_user_id = ex.caller.user_id;
  entry.actor_name = ex.caller.user_name;
  entry.action = std::move(action);
  entry.target_type = "key";
  entry.target_id = std::move(key_id);
  entry.remote_addr = ex.remote_address();
  entry.detail = std::move(detail);
  if (auto r = keystore.record_audit(entry); !r) {
    log_event("warn", "could not record an audit row", ",\"action\":\"" + entry.action + "\"");
  }
}

// --- handlers --------------------------------------------------------------------------------

awaitable<void> list_keys(HttpExchange& ex, ApiContext& api, Scope scope) {
  const Owner owner = owner_for(ex, scope);
  auto work = [&] { return api.keystore.list_keys(owner); };
  auto keys = co_await api.db.run(work);
  if (!keys) {
    const Error e = keys.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const int64_t now = now_unix();
  const std::string body =
      list_json(*keys, [now](JsonWriter& w, const auto& k) { write_key(w, k, now); });
  co_await ex.reply(http::status::ok, body);
}

awaitable<void> create_key(HttpExchange& ex, ApiContext& api, Scope scope) {
  Result<CreateInput> input = fail(Error::internal("unread"));
  {
    BodyCopy body(ex.request().body());
    auto parsed = body.parse();
    input = parsed ? read_create(body.doc(), api.catalog) : fail(parsed.error());
  }  // the copy holding the key is wiped here
  if (!input) {
    const Error e = input.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const Owner owner = owner_for(ex, scope);
  auto work = [&]() -> Result<KeyRecord> {
    auto created =
        api.keystore.create_key(owner, input->provider->id, std::move(input->api_key), input->name,
                                input->description, input->expires_at, input->priority);
    if (created) {
      audit(api.keystore, ex, "key.create", created->id, "provider " + created->provider);
    }
    return created;
  };
  auto created = co_await api.db.run(work);
  if (!created) {
    const Error e = created.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const std::string body = key_json(*created);
  co_await ex.reply(http::status::created, body);
}

awaitable<void> get_key(HttpExchange& ex, ApiContext& api, Scope scope) {
  const Owner owner = owner_for(ex, scope);
  const std::string id(ex.param("id"));
  auto work = [&] { return api.keystore.get_key(owner, id); };
  auto key = co_await api.db.run(work);
  if (!key) {
    const Error e = key.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const std::string body = key_json(*key);
  co_await ex.reply(http::status::ok, body);
}

awaitable<void> update_key(HttpExchange& ex, ApiContext& api, Scope scope) {
  Result<KeyPatch> patch = fail(Error::internal("unread"));
  {
    BodyCopy body(ex.request().body());
    auto parsed = body.parse();
    patch = parsed ? read_patch(body.doc()) : fail(parsed.error());
  }  // the copy holding the key (if any) is wiped here
  if (!patch) {
    const Error e = patch.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const Owner owner = owner_for(ex, scope);
  const std::string id(ex.param("id"));
  auto work = [&]() -> Result<KeyRecord> {
    // Ownership first: another user's id is a 404 before anything is looked at.
    auto current = api.keystore.get_key(owner, id);
    if (!current) {
      return fail(current.error());
    }
    std::string changed;
    auto note = [&changed](bool present, const char* field) {
      if (present) {
        changed += changed.empty() ? "" : ",";
        changed += field;
      }
    };
    note(patch->name.has_value(), "name");
    note(patch->description.has_value(), "description");
    note(patch->is_active.has_value(), "is_active");
    note(patch->expires_at.has_value(), "expires_at");
    note(patch->api_key.has_value(), "api_key");
    if (patch->api_key) {
      const auto* provider = api.catalog.find(current->provider);
      if (provider == nullptr) {
        return fail(Error::invalid_request(
            "The key's provider '" + current->provider + "' is no longer configured.", "api_key",
            "unknown_provider"));
      }
      if (auto ok = providers::validate_provider_key(*provider, patch->api_key->expose()); !ok) {
        return fail(ok.error());
      }
    }
    auto updated = api.keystore.update_key(owner, id, std::move(*patch));
    if (updated) {
      audit(api.keystore, ex, "key.update", id,
            "changed " + (changed.empty() ? "nothing" : changed));
    }
    return updated;
  };
  auto updated = co_await api.db.run(work);
  if (!updated) {
    const Error e = updated.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const std::string body = key_json(*updated);
  co_await ex.reply(http::status::ok, body);
}

awaitable<void> delete_key(HttpExchange& ex, ApiContext& api, Scope scope) {
  const Owner owner = owner_for(ex, scope);
  const std::string id(ex.param("id"));
  auto work = [&]() -> Result<void> {
    auto deleted = api.keystore.delete_key(owner, id);
    if (deleted) {
      audit(api.keystore, ex, "key.delete", id, {});
    }
    return deleted;
  };
  auto deleted = co_await api.db.run(work);
  if (!deleted) {
    const Error e = deleted.error();
    co_await ex.reply_error(e);
    co_return;
  }
  co_await ex.reply_empty(http::status::no_content);
}

// The best usable key of one provider among `keys`, in the keystore's own resolution order
// (lowest priority, then newest). Metadata only: nothing is decrypted.
const KeyRecord* usable_key(const std::vector<KeyRecord>& keys, std::string_view provider,
                            int64_t now) {
  const KeyRecord* best = nullptr;
  for (const auto& k : keys) {
    if (k.provider != provider || k.effective_status(now) != "active") {
      continue;
    }
    if (best == nullptr || k.priority < best->priority ||
        (k.priority == best->priority && k.created_at >= best->created_at)) {
      best = &k;
    }
  }
  return best;
}

// Whether the provider's documented environment variable holds a key. Checked without copying
// the value anywhere (key_from_environment would copy it into a SecretKey for nothing).
bool environment_has_key(const providers::Provider& provider) {
  if (provider.env_var.empty()) {
    return false;
  }
  const char* value = std::getenv(provider.env_var.c_str());
  return value != nullptr && *value != '\0';
}

awaitable<void> key_status(HttpExchange& ex, ApiContext& api) {
  struct Lists {
    std::vector<KeyRecord> own;
    std::vector<KeyRecord> system;
  };
  const std::string user_id = ex.caller.user_id;
  auto work = [&]() -> Result<Lists> {
    auto own = api.keystore.list_keys(user_id);
    if (!own) {
      return fail(own.error());
    }
    auto system = api.keystore.list_keys(std::nullopt);
    if (!system) {
      return fail(system.error());
    }
    return Lists{std::move(*own), std::move(*system)};
  };
  auto lists = co_await api.db.run(work);
  if (!lists) {
    const Error e = lists.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const int64_t now = now_unix();
  // The operator's key is there, but the caller's budget on it may be spent (GET /v1/budget).
  const SpendStanding standing = api.spend.standing(user_id, now_unix_ms());
  const bool budget_spent = standing.limit_usd && standing.spent_usd >= *standing.limit_usd;
  JsonWriter w;
  w.start_object();
  for (const auto& provider : api.catalog.providers()) {
    w.key(provider.id);
    w.start_object();
    if (!provider.requires_key) {
      w.field("source", "none_required");
    } else if (const auto* own = usable_key(lists->own, provider.id, now)) {
      w.field("source", "user");
      w.field("key_id", own->id);
    } else if (usable_key(lists->system, provider.id, now) != nullptr) {
      w.field("source", "system");
      w.field("budget_exceeded", budget_spent);
    } else if (environment_has_key(provider)) {
      w.field("source", "env");
      w.field("budget_exceeded", budget_spent);
    } else {
      w.field("source", "none");
    }
    w.end_object();
  }
  w.end_object();
  const std::string body = w.take();
  co_await ex.reply(http::status::ok, body);
}

std::string log_fields(const KeyRecord& key, const KeyTestResult& result) {
  JsonWriter w;
  w.start_object();
  w.field("key_id", key.id);
  w.field("provider", key.provider);
  w.field("upstream_status", result.upstream_status);
  w.field("ok", result.ok);
  w.field("message", result.message);  // already scrubbed of the key
  w.end_object();
  std::string object = w.take();
  return "," + object.substr(1, object.size() - 2);
}

awaitable<void> test_key(HttpExchange& ex, ApiContext& api, Scope scope, TestRateLimiter& limiter) {
  if (const int64_t wait = limiter.acquire(ex.caller.user_id); wait > 0) {
    ex.response_headers.emplace_back("retry-after", std::to_string(wait));
    const Error e = Error::rate_limited("At most " + std::to_string(kTestsPerWindow) +
                                        " key tests a minute; try again in " +
                                        std::to_string(wait) + " seconds.");
    co_await ex.reply_error(e);
    co_return;
  }
  const Owner owner = owner_for(ex, scope);
  const std::string id(ex.param("id"));
  struct Opened {
    KeyRecord record;
    SecretKey secret;
  };
  auto open = [&]() -> Result<Opened> {
    auto record = api.keystore.get_key(owner, id);  // 404 for anyone but the owner
    if (!record) {
      return fail(record.error());
    }
    auto secret = api.keystore.open_key(owner, id);
    if (!secret) {
      return fail(secret.error());
    }
    return Opened{std::move(*record), std::move(*secret)};
  };
  auto opened = co_await api.db.run(open);
  if (!opened) {
    const Error e = opened.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const auto* provider = api.catalog.find(opened->record.provider);
  if (provider == nullptr) {
    const Error e = Error::invalid_request("The key's provider '" + opened->record.provider +
                                           "' is no longer configured.");
    co_await ex.reply_error(e);
    co_return;
  }
  ex.log.upstream = provider->id;
  // Named first (g++ 12 rule); the secret moves into the call and is wiped when it returns.
  auto testing = run_key_test(api.upstream, *provider, std::move(opened->secret));
  const KeyTestResult result = co_await std::move(testing);
  log_event(result.ok ? "info" : "warn", "key test", log_fields(opened->record, result));

  const std::string new_status = status_after_test(opened->record, result);
  auto store = [&]() -> Result<KeyRecord> {
    auto set = api.keystore.set_key_status(id, new_status, now_unix(),
                                           last_error_after_test(opened->record, result));
    if (!set) {
      return fail(set.error());
    }
    audit(api.keystore, ex, "key.test", id,
          "upstream HTTP " + std::to_string(result.upstream_status) +
              (result.ok ? " (ok)" : " (failed)"));
    return api.keystore.get_key(owner, id);
  };
  auto stored = co_await api.db.run(store);
  if (!stored) {
    const Error e = stored.error();
    co_await ex.reply_error(e);
    co_return;
  }
  const int64_t now = now_unix();
  JsonWriter w;
  w.start_object();
  w.field("ok", result.ok);
  w.field("status", result.new_status.value_or(stored->effective_status(now)));
  w.field("upstream_status", result.upstream_status);
  w.field("message", result.message);
  w.key("key");
  write_key(w, *stored, now);
  w.end_object();
  const std::string body = w.take();
  co_await ex.reply(http::status::ok, body);
}

void add_scoped_routes(RouteTable& routes, ApiContext& api, const std::string& base, Access access,
                       Scope scope, const std::shared_ptr<TestRateLimiter>& limiter) {
  const std::string one = base + "/{id}";
  routes.add(http::verb::get, base, access,
             [&api, scope](HttpExchange& ex) { return list_keys(ex, api, scope); });
  routes.add(http::verb::post, base, access,
             [&api, scope](HttpExchange& ex) { return create_key(ex, api, scope); });
  if (scope == Scope::user) {
    // Before "/v1/keys/{id}": the first matching route wins.
    routes.add(http::verb::get, base + "/status", access,
               [&api](HttpExchange& ex) { return key_status(ex, api); });
  }
  routes.add(http::verb::get, one, access,
             [&api, scope](HttpExchange& ex) { return get_key(ex, api, scope); });
  routes.add(http::verb::patch, one, access,
             [&api, scope](HttpExchange& ex) { return update_key(ex, api, scope); });
  routes.add(http::verb::delete_, one, access,
             [&api, scope](HttpExchange& ex) { return delete_key(ex, api, scope); });
  routes.add(http::verb::post, one + "/test", access, [&api, scope, limiter](HttpExchange& ex) {
    return test_key(ex, api, scope, *limiter);
  });
}

}  // namespace

void register_key_routes(RouteTable& routes, ApiContext& api) {
  // One limiter for both scopes: it counts per calling user.
  auto limiter = std::make_shared<TestRateLimiter>();
  add_scoped_routes(routes, api, "/v1/keys", Access::user, Scope::user, limiter);
  add_scoped_routes(routes, api, "/v1/admin/keys", Access::admin, Scope::system, limiter);
}

}  // namespace keygate::gateway
