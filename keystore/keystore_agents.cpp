// Keystore: agents (named model presets of a user) and the audit log.

#include <algorithm>

#include "keystore/keystore.hpp"
#include "keystore/validate.hpp"
#include "schema/try.hpp"

namespace keygate {

namespace {

constexpr std::string_view kAgentColumns =
    "user_id, name, model, params_json, fallbacks_json, created_at, updated_at";

Agent read_agent(const db::Statement& s) {
  return Agent{s.column_text(0), s.column_text(1), s.column_text(2), s.column_text(3),
               s.column_text(4), s.column_int(5),  s.column_int(6)};
}

Error agent_not_found(std::string_view name) {
  return Error::not_found("No agent named '" + std::string(name) + "'.", "agent_not_found");
}

}  // namespace

Result<Agent> Keystore::put_agent(const Agent& agent) {
  KG_CHECK(validate_name(agent.name, "name"));
  KG_CHECK(validate_text(agent.model, "model", 256));
  if (agent.model.empty()) {
    return fail(Error::invalid_request("'model' is required.", "model"));
  }
  std::lock_guard lock(mu_);
  int64_t t = now();
  KG_TRY(stmt, db_.prepare(
                   "INSERT INTO agents(user_id, name, model, params_json, fallbacks_json, "
                   "created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT(user_id, name) DO UPDATE SET model = excluded.model, "
                   "params_json = excluded.params_json, fallbacks_json = excluded.fallbacks_json, "
                   "updated_at = excluded.updated_at "
                   "RETURNING " +
                   std::string(kAgentColumns)));
  stmt->bind(1, agent.user_id)
      .bind(2, agent.name)
      .bind(3, agent.model)
      .bind(4, agent.params_json.empty() ? std::string("{}") : agent.params_json)
      .bind(5, agent.fallbacks_json.empty() ? std::string("[]") : agent.fallbacks_json)
      .bind(6, t)
      .bind(7, t);
  KG_TRY(row, stmt->step());
  if (!*row) {
    return fail(Error::internal("agent upsert returned no row"));
  }
  Agent out = read_agent(*stmt);
  KG_CHECK(stmt->run());  // finish the statement so the write is complete
  return out;
}

Result<Agent> Keystore::get_agent(std::string_view user_id, std::string_view name) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kAgentColumns) +
                           " FROM agents WHERE user_id = ? AND name = ?"));
  stmt->bind(1, user_id).bind(2, name);
  KG_TRY(row, stmt->step());
  if (!*row) {
    return fail(agent_not_found(name));
  }
  return read_agent(*stmt);
}

Result<std::vector<Agent>> Keystore::list_agents(std::string_view user_id) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("SELECT " + std::string(kAgentColumns) +
                           " FROM agents WHERE user_id = ? ORDER BY name"));
  stmt->bind(1, user_id);
  std::vector<Agent> out;
  while (true) {
    KG_TRY(row, stmt->step());
    if (!*row) {
      return out;
    }
    out.push_back(read_agent(*stmt));
  }
}

Result<void> Keystore::delete_agent(std::string_view user_id, std::string_view name) {
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare("DELETE FROM agents WHERE user_id = ? AND name = ?"));
  stmt->bind(1, user_id).bind(2, name);
  KG_CHECK(stmt->run());
  if (db_.changes() == 0) {
    return fail(agent_not_found(name));
  }
  return {};
}

Result<int64_t> Keystore::record_audit(const AuditEntry& entry) {
  if (entry.action.empty()) {
    return fail(Error::internal("audit entry without an action"));
  }
  std::lock_guard lock(mu_);
  KG_TRY(stmt, db_.prepare(
                   "INSERT INTO audit_log(at, actor_user_id, actor_name, action, target_type, "
                   "target_id, remote_addr, detail) VALUES(?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
  stmt->bind(1, entry.at != 0 ? entry.at : now())
      .bind(2, entry.actor_user_id)
      .bind(3, entry.actor_name)
      .bind(4, entry.action)
      .bind(5, entry.target_type)
      .bind(6, entry.target_id)
      .bind(7, entry.remote_addr)
      .bind(8, entry.detail);
  KG_TRY(row, stmt->step());
  int64_t id = *row ? stmt->column_int(0) : 0;
  KG_CHECK(stmt->run());
  return id;
}

Result<std::vector<AuditEntry>> Keystore::list_audit(int limit, std::optional<int64_t> before_id) {
  limit = std::clamp(limit, 1, 1000);
  std::lock_guard lock(mu_);
  KG_TRY(stmt,
         db_.prepare("SELECT id, at, actor_user_id, actor_name, action, target_type, target_id, "
                     "remote_addr, detail FROM audit_log WHERE (? IS NULL OR id < ?) "
                     "ORDER BY id DESC LIMIT ?"));
  stmt->bind(1, before_id).bind(2, before_id).bind(3, limit);
  std::vector<AuditEntry> out;
  while (true) {
    KG_TRY(row, stmt->step());
    if (!*row) {
      return out;
    }
    AuditEntry e;
    e.id = stmt->column_int(0);
    e.at = stmt->column_int(1);
    e.actor_user_id = stmt->column_opt_text(2);
    e.actor_name = stmt->column_opt_text(3);
    e.action = stmt->column_text(4);
    e.target_type = stmt->column_opt_text(5);
    e.target_id = stmt->column_opt_text(6);
    e.remote_addr = stmt->column_opt_text(7);
    e.detail = stmt->column_opt_text(8);
    out.push_back(std::move(e));
  }
}

}  // namespace keygate
