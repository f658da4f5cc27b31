// The admin API: users (and their budgets on the operator's keys), their tokens, and the audit
// log. Every route is Access::admin (the
// session refuses anyone else with 403 before a handler runs). A new token's plaintext is in the
// 201 answer once and nowhere else: lists show the masked form, the audit log shows ids.

#include <algorithm>
#include <charconv>
#include <initializer_list>

#include "gateway/api_context.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

constexpr int kDefaultAuditLimit = 100;
constexpr int kMaxAuditLimit = 1000;

// Refuses members the route does not know: a typo ("expire_at") silently ignored would create a
// token that never expires.
Result<void> only_fields(const rapidjson::Value& body,
                         std::initializer_list<std::string_view> known) {
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    std::string_view name = as_view(it->name);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return fail(Error::invalid_request("Unknown field '" + std::string(name) + "'.",
                                         std::string(name), "unknown_field"));
    }
  }
  return {};
}

// "expires_at": absent or null → never; an RFC 3339 string → that time.
Result<std::optional<int64_t>> expires_at_of(const rapidjson::Value& body) {
  auto it = body.FindMember("expires_at");
  if (it == body.MemberEnd() || it->value.IsNull()) {
    return std::optional<int64_t>{};
  }
  if (!it->value.IsString()) {
    return fail(Error::invalid_request("'expires_at' must be an RFC 3339 string or null.",
                                       "expires_at", "invalid_type"));
  }
  auto t = parse_rfc3339(as_view(it->value));
  if (!t) {
    Error e = t.error();
    e.param = "expires_at";
    return fail(std::move(e));
  }
  return std::optional<int64_t>(*t);
}

// A request body that must be a JSON object (an empty body counts as {} when `empty_ok`).
Result<rapidjson::Document> body_object(const HttpExchange& ex, bool empty_ok) {
  const std::string& text = ex.request().body();
  if (empty_ok && text.find_first_not_of(" \t\r\n") == std::string::npos) {
    rapidjson::Document d;
    d.SetObject();
    return d;
  }
  return parse_json_object(text);
}

// Query integers (?limit=, ?before=): digits only, else 400 naming the parameter.
Result<std::optional<int64_t>> query_int(const HttpExchange& ex, std::string_view name) {
  if (!ex.has_query(name)) {
    return std::optional<int64_t>{};
  }
  std::string_view text = ex.query(name);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1) {
    return fail(Error::invalid_request("'" + std::string(name) + "' must be a positive integer.",
                                       std::string(name), "invalid_query"));
  }
  return std::optional<int64_t>(value);
}

void time_or_null(JsonWriter& w, std::string_view key, const std::optional<int64_t>& t) {
  w.key(key);
  if (t) {
    w.string(format_rfc3339(*t));
  } else {
    w.null();
  }
}

// A user, with their limits: their own budget on the operator's keys (`system_key_budget_usd`,
// null when the configured default applies) and where they stand this period, and their own
// rate limits (`requests_per_minute`, `tokens_per_minute`, null: the default) with the ones that
// apply.
void write_user(JsonWriter& w, const User& u, ApiContext& api) {
  w.start_object();
  w.field("id", u.id);
  w.field("name", u.name);
  w.field("admin", u.admin);
  w.field("created_at", format_rfc3339(u.created_at));
  w.field("disabled", u.disabled);
  w.key("system_key_budget_usd");
  if (u.system_key_budget_usd) {
    w.number(*u.system_key_budget_usd);
  } else {
    w.null();
  }
  w.key("system_key_spend");
  write_standing(w, api.spend.standing(u.id, now_unix_ms()), api.spend.policy().period);
  w.key("requests_per_minute");
  if (u.requests_per_minute) {
    w.integer(*u.requests_per_minute);
  } else {
    w.null();
  }
  w.key("tokens_per_minute");
  if (u.tokens_per_minute) {
    w.integer(*u.tokens_per_minute);
  } else {
    w.null();
  }
  const auto [rpm, own] = api.rate.limit_of(u.id);
  const auto [tpm, own_tpm] = api.rate.token_limit_of(u.id);
  w.key("rate_limit");
  w.start_object();
  w.key("requests_per_minute");
  if (rpm) {
    w.integer(*rpm);
  } else {
    w.null();
  }
  w.field("limit_source", !rpm ? "none" : own ? "user" : "default");
  w.key("tokens_per_minute");
  if (tpm) {
    w.integer(*tpm);
  } else {
    w.null();
  }
  w.field("token_limit_source", !tpm ? "none" : own_tpm ? "user" : "default");
  w.end_object();
  w.end_object();
}

void write_token_info(JsonWriter& w, const TokenInfo& t, int64_t now) {
  w.start_object();
  w.field("id", t.id);
  w.field("user_id", t.user_id);
  w.field("name", t.name);
  w.field("masked", t.masked);
  w.field("created_at", format_rfc3339(t.created_at));
  time_or_null(w, "expires_at", t.expires_at);
  time_or_null(w, "revoked_at", t.revoked_at);
  time_or_null(w, "last_used_at", t.last_used_at);
  const char* status = t.revoked_at                             ? "revoked"
                       : (t.expires_at && *t.expires_at <= now) ? "expired"
                                                                : "active";
  w.field("status", status);
  w.end_object();
}

AuditEntry audit_of(const HttpExchange& ex, std::string action, std::string target_type,
                    std::string target_id, std::string detail) {
  AuditEntry e;
  e.actor_user_id = ex.caller.user_id;
  e.actor_name = ex.caller.user_name;
  e.action = std::move(action);
  e.target_type = std::move(target_type);
  e.target_id = std::move(target_id);
  e.remote_addr = ex.remote_address();
  e.detail = std::move(detail);
  return e;
}

// The plaintext token must not outlive the answer that shows it.
void wipe(std::string& s) {
  std::fill(s.begin(), s.end(), '\0');
  s.clear();
}

// --- handlers ------------------------------------------------------------------------------

awaitable<void> list_users(HttpExchange& ex, ApiContext& api) {
  auto work = [&] { return api.keystore.list_users(); };
  auto users = co_await api.db.run(work);
  if (!users) {
    co_await ex.reply_error(users.error());
    co_return;
  }
  const std::string body =
      list_json(*users, [&api](JsonWriter& w, const User& u) { write_user(w, u, api); });
  co_await ex.reply(http::status::ok, body);
}

// {"system_key_budget_usd": 25} sets the user's own budget on the operator's keys (0: the user's
// own keys only); {"requests_per_minute": 120} and {"tokens_per_minute": 200000} their own rate
// limits. null returns any of them to the configured default. At least one of them.
Result<UserLimitsPatch> parse_user_patch(const HttpExchange& ex) {
  auto doc = body_object(ex, false);
  if (!doc) {
    return fail(doc.error());
  }
  if (auto ok =
          only_fields(*doc, {"system_key_budget_usd", "requests_per_minute", "tokens_per_minute"});
      !ok) {
    return fail(ok.error());
  }
  UserLimitsPatch patch;
  if (auto it = doc->FindMember("system_key_budget_usd"); it != doc->MemberEnd()) {
    if (it->value.IsNull()) {
      patch.system_key_budget_usd.emplace();
    } else if (!it->value.IsNumber() || !(it->value.GetDouble() >= 0) ||
               it->value.GetDouble() > 1e12) {
      return fail(Error::invalid_request(
          "'system_key_budget_usd' must be a number of dollars, 0 or more, or null.",
          "system_key_budget_usd", "invalid_value"));
    } else {
      patch.system_key_budget_usd.emplace(it->value.GetDouble());
    }
  }
  for (auto [name, field] :
       {std::pair{"requests_per_minute", &UserLimitsPatch::requests_per_minute},
        std::pair{"tokens_per_minute", &UserLimitsPatch::tokens_per_minute}}) {
    auto it = doc->FindMember(name);
    if (it == doc->MemberEnd()) {
      continue;
    }
    if (it->value.IsNull()) {
      (patch.*field).emplace();
    } else if (!it->value.IsInt64() || it->value.GetInt64() < 1 ||
               it->value.GetInt64() > 1'000'000'000) {
      return fail(Error::invalid_request(
          std::string("'") + name + "' must be a whole number from 1 to 1000000000, or null.", name,
          "invalid_value"));
    } else {
      (patch.*field).emplace(it->value.GetInt64());
    }
  }
  if (!patch.system_key_budget_usd && !patch.requests_per_minute && !patch.tokens_per_minute) {
    return fail(Error::invalid_request(
        "Give 'system_key_budget_usd' (dollars a period), 'requests_per_minute' or "
        "'tokens_per_minute', or several; null returns any of them to the configured default.",
        "system_key_budget_usd", "missing_field"));
  }
  return patch;
}

// The audit line for a change: "system key budget $25.00; requests a minute: the default".
std::string describe(const UserLimitsPatch& patch) {
  std::string out;
  if (const auto& usd = patch.system_key_budget_usd) {
    out += *usd ? "system key budget " + format_usd(**usd) : "system key budget: the default";
  }
  if (const auto& rpm = patch.requests_per_minute) {
    out += out.empty() ? "" : "; ";
    out += *rpm ? "requests a minute " + std::to_string(**rpm) : "requests a minute: the default";
  }
  if (const auto& tpm = patch.tokens_per_minute) {
    out += out.empty() ? "" : "; ";
    out += *tpm ? "tokens a minute " + std::to_string(**tpm) : "tokens a minute: the default";
  }
  return out;
}

awaitable<void> update_user(HttpExchange& ex, ApiContext& api) {
  auto patch = parse_user_patch(ex);
  if (!patch) {
    co_await ex.reply_error(patch.error());
    co_return;
  }
  const std::string user_id(ex.param("id"));
  auto work = [&]() -> Result<User> {
    auto user = api.keystore.update_user_limits(user_id, *patch);
    if (user) {
      // In force for this instance's next request; other instances read it within a minute.
      if (patch->system_key_budget_usd) {
        api.spend.set_budget(user_id, *patch->system_key_budget_usd);
      }
      if (patch->requests_per_minute) {
        api.rate.set_limit(user_id, *patch->requests_per_minute);
      }
      if (patch->tokens_per_minute) {
        api.rate.set_token_limit(user_id, *patch->tokens_per_minute);
      }
      (void)api.keystore.record_audit(
          audit_of(ex, "user.limits", "user", user_id, describe(*patch)));
    }
    return user;
  };
  auto user = co_await api.db.run(work);
  if (!user) {
    co_await ex.reply_error(user.error());
    co_return;
  }
  JsonWriter w;
  write_user(w, *user, api);
  const std::string body = w.take();
  co_await ex.reply(http::status::ok, body);
}

Result<std::pair<std::string, bool>> parse_new_user(const HttpExchange& ex) {
  auto doc = body_object(ex, false);
  if (!doc) {
    return fail(doc.error());
  }
  if (auto ok = only_fields(*doc, {"name", "admin"}); !ok) {
    return fail(ok.error());
  }
  auto name = get_string(*doc, "name");
  if (!name) {
    return fail(name.error());
  }
  if (!*name) {
    return fail(Error::invalid_request("'name' is required.", "name", "missing_field"));
  }
  auto admin = get_bool(*doc, "admin");
  if (!admin) {
    return fail(admin.error());
  }
  return std::pair{std::move(**name), admin->value_or(false)};
}

awaitable<void> create_user(HttpExchange& ex, ApiContext& api) {
  auto input = parse_new_user(ex);
  if (!input) {
    co_await ex.reply_error(input.error());
    co_return;
  }
  auto work = [&]() -> Result<CreatedUser> {
    auto created = api.keystore.create_user(input->first, input->second);
    if (created) {
      // The audit row is best effort: the user exists either way and the caller holds the token.
      (void)api.keystore.record_audit(
          audit_of(ex, "user.create", "user", created->user.id, input->second ? "admin" : "user"));
    }
    return created;
  };
  auto created = co_await api.db.run(work);
  if (!created) {
    co_await ex.reply_error(created.error());
    co_return;
  }
  JsonWriter w;
  w.start_object();
  w.field("id", created->user.id);
  w.field("name", created->user.name);
  w.field("admin", created->user.admin);
  w.field("created_at", format_rfc3339(created->user.created_at));
  w.field("token_id", created->token_info.id);
  w.field("token", created->token);
  w.field("masked", created->token_info.masked);
  w.end_object();
  wipe(created->token);
  std::string body = w.take();
  co_await ex.reply(http::status::created, body);
  wipe(body);
}

struct NewToken {
  std::string name = "api";
  std::optional<int64_t> expires_at;
};

Result<NewToken> parse_new_token(const HttpExchange& ex) {
  auto doc = body_object(ex, true);
  if (!doc) {
    return fail(doc.error());
  }
  if (auto ok = only_fields(*doc, {"name", "expires_at"}); !ok) {
    return fail(ok.error());
  }
  NewToken out;
  auto name = get_string(*doc, "name");
  if (!name) {
    return fail(name.error());
  }
  if (*name) {
    if ((*name)->empty()) {
      return fail(Error::invalid_request("'name' must not be empty.", "name", "invalid_name"));
    }
    out.name = std::move(**name);
  }
  auto expires = expires_at_of(*doc);
  if (!expires) {
    return fail(expires.error());
  }
  out.expires_at = *expires;
  return out;
}

awaitable<void> create_token(HttpExchange& ex, ApiContext& api) {
  auto input = parse_new_token(ex);
  if (!input) {
    co_await ex.reply_error(input.error());
    co_return;
  }
  const std::string user_id(ex.param("id"));
  auto work = [&]() -> Result<CreatedToken> {
    auto created = api.keystore.create_token(user_id, input->name, input->expires_at);
    if (created) {
      (void)api.keystore.record_audit(
          audit_of(ex, "token.create", "token", created->info.id, "user " + user_id));
    }
    return created;
  };
  auto created = co_await api.db.run(work);
  if (!created) {
    co_await ex.reply_error(created.error());
    co_return;
  }
  JsonWriter w;
  w.start_object();
  w.field("id", created->info.id);
  w.field("user_id", created->info.user_id);
  w.field("name", created->info.name);
  w.field("token", created->token);
  w.field("masked", created->info.masked);
  w.field("created_at", format_rfc3339(created->info.created_at));
  time_or_null(w, "expires_at", created->info.expires_at);
  w.end_object();
  wipe(created->token);
  std::string body = w.take();
  co_await ex.reply(http::status::created, body);
  wipe(body);
}

awaitable<void> list_tokens(HttpExchange& ex, ApiContext& api) {
  const std::string user_id(ex.param("id"));
  auto work = [&]() -> Result<std::vector<TokenInfo>> {
    // An unknown user is a 404, not an empty list: a typo in the id must not look like "no
    // tokens".
    if (auto user = api.keystore.get_user(user_id); !user) {
      return fail(user.error());
    }
    return api.keystore.list_tokens(user_id);
  };
  auto tokens = co_await api.db.run(work);
  if (!tokens) {
    co_await ex.reply_error(tokens.error());
    co_return;
  }
  const int64_t now = now_unix();
  const std::string body =
      list_json(*tokens, [now](JsonWriter& w, const auto& t) { write_token_info(w, t, now); });
  co_await ex.reply(http::status::ok, body);
}

awaitable<void> revoke_token(HttpExchange& ex, ApiContext& api) {
  const std::string token_id(ex.param("id"));
  auto work = [&]() -> Result<void> {
    auto info = api.keystore.get_token(token_id);
    if (!info) {
      return fail(info.error());
    }
    auto revoked = api.keystore.revoke_token(token_id);
    if (revoked) {
      (void)api.keystore.record_audit(
          audit_of(ex, "token.revoke", "token", token_id, "user " + info->user_id));
    }
    return revoked;
  };
  auto revoked = co_await api.db.run(work);
  if (!revoked) {
    co_await ex.reply_error(revoked.error());
    co_return;
  }
  co_await ex.reply_empty(http::status::no_content);
}

awaitable<void> list_audit(HttpExchange& ex, ApiContext& api) {
  auto limit = query_int(ex, "limit");
  if (!limit) {
    co_await ex.reply_error(limit.error());
    co_return;
  }
  auto before = query_int(ex, "before");
  if (!before) {
    co_await ex.reply_error(before.error());
    co_return;
  }
  const int n =
      static_cast<int>(std::min<int64_t>(limit->value_or(kDefaultAuditLimit), kMaxAuditLimit));
  auto work = [&] { return api.keystore.list_audit(n, *before); };
  auto entries = co_await api.db.run(work);
  if (!entries) {
    co_await ex.reply_error(entries.error());
    co_return;
  }
  JsonWriter w;
  w.start_object();
  w.field("object", "list");
  w.key("data");
  w.start_array();
  for (const auto& e : *entries) {
    w.start_object();
    w.field("id", e.id);
    w.field("at", format_rfc3339(e.at));
    w.field_or_null("actor", e.actor_name);
    w.field_or_null("actor_id", e.actor_user_id);
    w.field("action", e.action);
    w.field_or_null("target_type", e.target_type);
    w.field_or_null("target_id", e.target_id);
    w.field_or_null("remote_addr", e.remote_addr);
    w.field_or_null("detail", e.detail);
    w.end_object();
  }
  w.end_array();
  // A full page may have more behind it: pass next_before as ?before= to get it.
  w.key("next_before");
  if (!entries->empty() && static_cast<int>(entries->size()) == n) {
    w.integer(entries->back().id);
  } else {
    w.null();
  }
  w.end_object();
  const std::string body = w.take();
  co_await ex.reply(http::status::ok, body);
}

}  // namespace

void register_admin_routes(RouteTable& routes, ApiContext& api) {
  routes.add(http::verb::get, "/v1/admin/users", Access::admin,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await list_users(ex, api); });
  routes.add(http::verb::post, "/v1/admin/users", Access::admin,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await create_user(ex, api); });
  routes.add(http::verb::patch, "/v1/admin/users/{id}", Access::admin,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await update_user(ex, api); });
  routes.add(http::verb::get, "/v1/admin/users/{id}/tokens", Access::admin,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await list_tokens(ex, api); });
  routes.add(http::verb::post, "/v1/admin/users/{id}/tokens", Access::admin,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await create_token(ex, api); });
  routes.add(http::verb::delete_, "/v1/admin/tokens/{id}", Access::admin,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await revoke_token(ex, api); });
  routes.add(http::verb::get, "/v1/admin/audit", Access::admin,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await list_audit(ex, api); });
}

}  // namespace keygate::gateway
