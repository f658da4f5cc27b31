// GET /v1/usage (the caller's own usage) and GET /v1/admin/usage (everyone's): sums, errors and
// latency percentiles over a time range, grouped and filtered; JSON or CSV. The report reads on
// the database pool through its own connection (keystore/usage_reports.hpp).

#include "gateway/api_context.hpp"
#include "keystore/usage_reports.hpp"
#include "schema/json.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

std::optional<std::string> filter(const HttpExchange& ex, std::string_view name) {
  if (!ex.has_query(name) || ex.query(name).empty()) {
    return std::nullopt;
  }
  return std::string(ex.query(name));
}

// The query as the client wrote it; the caller's restriction is applied by the route.
Result<UsageQuery> read_query(const HttpExchange& ex) {
  UsageQuery q;
  auto range = parse_usage_range(ex.query("from"), ex.query("to"), now_unix_ms());
  if (!range) {
    return fail(range.error());
  }
  q.from_ms = range->first;
  q.to_ms = range->second;
  auto group_by = parse_group_by(ex.query("group_by"));
  if (!group_by) {
    return fail(group_by.error());
  }
  q.group_by = std::move(*group_by);
  q.user_name = filter(ex, "user");
  q.agent = filter(ex, "agent");
  q.provider = filter(ex, "provider");
  q.model = filter(ex, "model");
  return q;
}

awaitable<void> usage_report(HttpExchange& ex, ApiContext& api, bool everyone) {
  UsageReports* reports = api.usage.reports();
  if (reports == nullptr) {
    const Error e = Error::unavailable("Usage reports are unavailable (see the server log).");
    co_await ex.reply_error(e);
    co_return;
  }
  const std::string_view format = ex.has_query("format") ? ex.query("format") : "json";
  if (format != "json" && format != "csv") {
    const Error e =
        Error::invalid_request("'format' must be json or csv.", "format", "invalid_format");
    co_await ex.reply_error(e);
    co_return;
  }
  auto query = read_query(ex);
  if (!query) {
    co_await ex.reply_error(query.error());
    co_return;
  }
  if (!everyone) {
    // Pinned to the caller whatever the filters say: a `user` naming someone else matches nothing.
    query->user_id = ex.caller.user_id;
  }
  auto work = [&] { return reports->query(*query); };
  auto report = co_await api.db.run(work);
  if (!report) {
    co_await ex.reply_error(report.error());
    co_return;
  }
  if (format == "csv") {
    const std::string body = usage_report_csv(*report);
    co_await ex.reply(http::status::ok, body, "text/csv; charset=utf-8; header=present");
  } else {
    const std::string body = usage_report_json(*report);
    co_await ex.reply(http::status::ok, body);
  }
}

// The caller's budget on the operator's keys this period (gateway/spend_limits.hpp).
awaitable<void> own_budget(HttpExchange& ex, ApiContext& api) {
  JsonWriter w;
  write_standing(w, api.spend.standing(ex.caller.user_id, now_unix_ms()),
                 api.spend.policy().period);
  const std::string body = w.take();
  co_await ex.reply(http::status::ok, body);
}

}  // namespace

void register_usage_routes(RouteTable& routes, ApiContext& api) {
  routes.add(http::verb::get, "/v1/budget", Access::user,
             [&api](HttpExchange& ex) -> awaitable<void> { co_await own_budget(ex, api); });
  routes.add(http::verb::get, "/v1/usage", Access::user,
             [&api](HttpExchange& ex) { return usage_report(ex, api, false); });
  routes.add(http::verb::get, "/v1/admin/usage", Access::admin,
             [&api](HttpExchange& ex) { return usage_report(ex, api, true); });
}

}  // namespace keygate::gateway
