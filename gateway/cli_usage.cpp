// `keygate usage`: the usage report for operators, read straight from the database (WAL lets it
// run beside a serving keygate; no master key is needed, usage holds no secret).

#include <CLI/CLI.hpp>

#include <iostream>

#include "gateway/app.hpp"
#include "gateway/cli.hpp"
#include "keystore/usage_reports.hpp"
#include "schema/time.hpp"

namespace keygate::gateway {
namespace {

struct UsageOptions {
  std::string from;
  std::string to;
  std::string by = "day";
  std::string format = "table";
  std::string user;
  std::string agent;
  std::string provider;
  std::string model;
};

int report_error(const Error& e) {
  std::cerr << "keygate: " << e.message << "\n";
  return 1;
}

std::optional<std::string> non_empty(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

int cmd_usage(const Config& config, const UsageOptions& o) {
  if (o.format != "table" && o.format != "csv" && o.format != "json") {
    return report_error(Error::invalid_request("--format must be table, csv or json"));
  }
  UsageQuery q;
  auto range = parse_usage_range(o.from, o.to, now_unix_ms());
  if (!range) {
    return report_error(range.error());
  }
  q.from_ms = range->first;
  q.to_ms = range->second;
  auto by = parse_group_by(o.by);
  if (!by) {
    return report_error(by.error());
  }
  q.group_by = std::move(*by);
  q.user_name = non_empty(o.user);
  q.agent = non_empty(o.agent);
  q.provider = non_empty(o.provider);
  q.model = non_empty(o.model);

  // Opening the keystore creates or migrates the file; the master key is not needed here.
  auto keystore = open_keystore(config);
  if (!keystore) {
    return report_error(keystore.error());
  }
  auto reports = UsageReports::open(database_target(config));
  if (!reports) {
    return report_error(reports.error());
  }
  auto report = (*reports)->query(q);
  if (!report) {
    return report_error(report.error());
  }
  if (o.format == "json") {
    std::cout << usage_report_json(*report) << "\n";
  } else if (o.format == "csv") {
    std::cout << usage_report_csv(*report);
  } else {
    std::cout << usage_report_table(*report);
  }
  return 0;
}

}  // namespace

void register_usage_command(CLI::App& cli, std::function<std::optional<Config>()> config,
                            int& exit_code) {
  auto options = std::make_shared<UsageOptions>();
  auto* usage = cli.add_subcommand("usage", "Usage report: requests, tokens, cost and latency");
  usage->add_option("--from", options->from, "Start: YYYY-MM-DD or RFC 3339 (default 30 days ago)");
  usage->add_option("--to", options->to, "End: YYYY-MM-DD (that day included) or RFC 3339");
  usage->add_option("--by", options->by,
                    "Group by a comma list of user,agent,provider,model,key_source,day");
  usage->add_option("--format", options->format, "table (default), csv or json");
  usage->add_option("--user", options->user, "Only this user (name)");
  usage->add_option("--agent", options->agent, "Only this agent");
  usage->add_option("--provider", options->provider, "Only this provider");
  usage->add_option("--model", options->model, "Only this model (as served, e.g. gpt-4o-mini)");
  usage->callback([options, config, &exit_code] {
    if (auto c = config()) {
      exit_code = cmd_usage(*c, *options);
    }
  });
}

}  // namespace keygate::gateway
