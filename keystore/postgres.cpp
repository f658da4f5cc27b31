#include "keystore/postgres.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "keystore/libpq_loader.hpp"

namespace keygate::pg {

namespace {

// Type Oids from PostgreSQL's pg_type.dat (stable across versions; libpq has no header for them).
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;

void ignore_notice(void*, const char*) {
  // NOTICEs ("relation already exists, skipping") would go to stderr, outside keygate's JSON log.
}

bool starts_with_word(std::string_view sql, std::string_view word) {
  while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n')) {
    sql.remove_prefix(1);
  }
  if (sql.size() < word.size()) {
    return false;
  }
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(sql[i])) != word[i]) {
      return false;
    }
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

bool is_postgres_target(std::string_view target) {
  return target.starts_with("postgres://") || target.starts_with("postgresql://");
}

std::string redact_target(std::string_view target) {
  // scheme://user:password@host... -> scheme://user:***@host...
  const auto scheme = target.find("://");
  if (scheme == std::string_view::npos) {
    return std::string(target);
  }
  const auto authority = scheme + 3;
  const auto at = target.find('@', authority);
  const auto slash = target.find('/', authority);
  std::string out(target);
  if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash)) {
    const auto colon = target.find(':', authority);
    if (colon != std::string_view::npos && colon < at) {
      out = std::string(target.substr(0, colon + 1)) + "***" + std::string(target.substr(at));
    }
  }
  // A password can also come as a query parameter (?password=...).
  const auto query = out.find("password=");
  if (query != std::string::npos) {
    const auto end = out.find('&', query);
    out.replace(query + 9, end == std::string::npos ? std::string::npos : end - query - 9, "***");
  }
  return out;
}

std::string numbered_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int highest = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted name: copied as is ('' and "" escape)
      const auto end = sql.find(c, i + 1);
      const auto stop = end == std::string_view::npos ? sql.size() : end + 1;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const auto end = sql.find('\n', i);
      const auto stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop - 1;
    } else if (c == '?') {
      std::size_t j = i + 1;
      int number = 0;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') {
        number = number * 10 + (sql[j] - '0');
        ++j;
      }
      // SQLite's rule: ?N is parameter N; a bare ? is one more than the largest so far.
      number = j > i + 1 ? number : highest + 1;
      highest = std::max(highest, number);
      out += '$';
      out += std::to_string(number);
      i = j - 1;
    } else {
      out += c;
    }
  }
  return out;
}

// --- Statement -------------------------------------------------------------------------------

Statement::Statement(Connection* connection, std::string sql)
    : connection_(connection), sql_(std::move(sql)) {}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_),
      sql_(std::move(other.sql_)),
      params_(std::move(other.params_)),
      result_(other.result_),
      executed_(other.executed_),
      rows_(other.rows_),
      row_(other.row_) {
  other.result_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    clear_result();
    connection_ = other.connection_;
    sql_ = std::move(other.sql_);
    params_ = std::move(other.params_);
    result_ = other.result_;
    executed_ = other.executed_;
    rows_ = other.rows_;
    row_ = other.row_;
    other.result_ = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  clear_result();
}

void Statement::clear_result() {
  if (result_ != nullptr) {
    PQclear(result_);
    result_ = nullptr;
  }
  executed_ = false;
  rows_ = 0;
  row_ = -1;
}

Statement::Param& Statement::param(int index) {
  const auto i = static_cast<std::size_t>(index > 0 ? index - 1 : 0);
  if (params_.size() <= i) {
    params_.resize(i + 1);
  }
  return params_[i];
}

Statement& Statement::bind(int index, int64_t value) {
  param(index) = Param{std::to_string(value), kInt8Oid, 0};
  return *this;
}

Statement& Statement::bind(int index, double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  param(index) = Param{std::string(buf, ec == std::errc() ? end : buf), kFloat8Oid, 0};
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  param(index) = Param{std::string(text), kTextOid, 0};
  return *this;
}

Statement& Statement::bind(int index, std::span<const unsigned char> blob) {
  param(index) =
      Param{std::string(reinterpret_cast<const char*>(blob.data()), blob.size()), kByteaOid, 1};
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  param(index) = Param{std::nullopt, 0, 0};
  return *this;
}

Statement& Statement::bind(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : (param(index) = Param{std::nullopt, kInt8Oid, 0}, *this);
}

Statement& Statement::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, std::string_view(*value))
               : (param(index) = Param{std::nullopt, kTextOid, 0}, *this);
}

Statement& Statement::bind_static_or_null(int index, std::string_view text) {
  return text.empty() ? (param(index) = Param{std::nullopt, kTextOid, 0}, *this)
                      : bind(index, text);
}

Result<void> Statement::execute() {
  if (auto c = connection_->ensure_connected("a query"); !c) {
    return c;
  }
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params_) {
    types.push_back(p.type);
    values.push_back(p.value ? p.value->data() : nullptr);
    lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
    formats.push_back(p.format);
  }
  pg_result* raw = PQexecParams(connection_->conn_, sql_.c_str(), static_cast<int>(params_.size()),
                                types.data(), values.data(), lengths.data(), formats.data(), 0);
  auto checked = connection_->check(raw, "a query");
  if (!checked) {
    return fail(checked.error());
  }
  result_ = *checked;
  executed_ = true;
  rows_ = PQntuples(result_);
  row_ = -1;
  return {};
}

Result<bool> Statement::step() {
  if (executed_ && row_ >= rows_) {
    clear_result();  // as SQLite: a step after the last row runs the statement again
  }
  if (!executed_) {
    if (auto r = execute(); !r) {
      return fail(r.error());
    }
  }
  if (row_ + 1 < rows_) {
    ++row_;
    return true;
  }
  row_ = rows_;
  return false;
}

Result<void> Statement::run() {
  if (executed_ && row_ < rows_) {  // after step(): it already ran whole; only rows are left
    row_ = rows_;
    return {};
  }
  clear_result();
  if (auto r = execute(); !r) {
    return r;
  }
  row_ = rows_;
  return {};
}

void Statement::reset() {
  clear_result();
  params_.clear();
}

void Statement::rewind() {
  clear_result();
}

const char* Statement::cell(int column) const {
  if (result_ == nullptr || row_ < 0 || row_ >= rows_ || column >= PQnfields(result_) ||
      PQgetisnull(result_, row_, column)) {
    return nullptr;
  }
  return PQgetvalue(result_, row_, column);
}

bool Statement::is_null(int column) const {
  return cell(column) == nullptr;
}

int64_t Statement::column_int(int column) const {
  const char* v = cell(column);
  if (v == nullptr) {
    return 0;
  }
  if (v[0] == 't' || v[0] == 'f') {  // a boolean expression's value
    return v[0] == 't' ? 1 : 0;
  }
  // sum() of bigints is numeric: "12" or, for a float column, "1.5" (truncated like SQLite).
  return std::strtoll(v, nullptr, 10);
}

double Statement::column_double(int column) const {
  const char* v = cell(column);
  return v == nullptr ? 0.0 : std::strtod(v, nullptr);
}

std::string Statement::column_text(int column) const {
  const char* v = cell(column);
  if (v == nullptr) {
    return {};
  }
  return std::string(v, static_cast<std::size_t>(PQgetlength(result_, row_, column)));
}

Blob Statement::column_blob(int column) const {
  const char* v = cell(column);
  if (v == nullptr) {
    return {};
  }
  // bytea in text form is hex: \x0a1b...
  const auto length = static_cast<std::size_t>(PQgetlength(result_, row_, column));
  Blob out;
  if (length >= 2 && v[0] == '\\' && v[1] == 'x') {
    out.reserve((length - 2) / 2);
    for (std::size_t i = 2; i + 1 < length; i += 2) {
      const int hi = hex_value(v[i]);
      const int lo = hex_value(v[i + 1]);
      if (hi < 0 || lo < 0) {
        return {};
      }
      out.push_back(static_cast<unsigned char>(hi * 16 + lo));
    }
    return out;
  }
  return Blob(v, v + length);  // a text column read as bytes
}

std::optional<int64_t> Statement::column_opt_int(int column) const {
  if (is_null(column)) {
    return std::nullopt;
  }
  return column_int(column);
}

std::optional<std::string> Statement::column_opt_text(int column) const {
  if (is_null(column)) {
    return std::nullopt;
  }
  return column_text(column);
}

// --- Connection ------------------------------------------------------------------------------

Connection::Connection(pg_conn* conn, std::string target)
    : conn_(conn), target_(std::move(target)) {}

Connection::~Connection() {
  PQfinish(conn_);
}

namespace {

// Keywords before "dbname" are defaults: the target, expanded in its place, overrides them.
constexpr const char* kConnectKeywords[] = {
    "connect_timeout",  "keepalives_idle", "keepalives_interval",
    "keepalives_count", "dbname",          nullptr};

template <class Connect>
pg_conn* connect_with(const std::string& target, Connect connect) {
  const char* values[] = {"10", "30", "10", "3", target.c_str(), nullptr};
  pg_conn* conn = connect(kConnectKeywords, values, /*expand_dbname=*/1);
  if (conn != nullptr) {
    PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  }
  return conn;
}

}  // namespace

pg_conn* connect_with_defaults(const std::string& target) {
  return connect_with(target, PQconnectdbParams);
}

pg_conn* start_connecting_with_defaults(const std::string& target) {
  return connect_with(target, PQconnectStartParams);
}

std::string connection_error(pg_conn* conn) {
  if (conn == nullptr && !libpq_load_error().empty()) {
    return libpq_load_error();
  }
  std::string why = conn ? PQerrorMessage(conn) : "out of memory";
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) {
    why.pop_back();
  }
  return why;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& target) {
  pg_conn* conn = connect_with_defaults(target);
  std::unique_ptr<Connection> c(new Connection(conn, target));
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    return fail(Error::unavailable(
        "cannot connect to PostgreSQL at " + redact_target(target) + ": " + connection_error(conn),
        "database_unavailable"));
  }
  // Times are integers keygate computes; the session's zone and encoding are fixed anyway so
  // that nothing in a result depends on the server's defaults.
  if (auto r = c->exec("SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'"); !r) {
    return fail(r.error());
  }
  return c;
}

Result<void> Connection::ensure_connected(std::string_view what) {
  if (PQstatus(conn_) == CONNECTION_OK) {
    return {};
  }
  if (in_transaction_) {  // the transaction died with the connection: its caller must fail
    return fail(Error::unavailable("lost the connection to PostgreSQL during " + std::string(what),
                                   "database_unavailable"));
  }
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return fail(Error::unavailable("cannot reach PostgreSQL during " + std::string(what),
                                   "database_unavailable"));
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  return {};
}

Result<pg_result*> Connection::check(pg_result* result, std::string_view what) {
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    const char* affected = PQcmdTuples(result);
    changes_ = affected && *affected ? std::strtoll(affected, nullptr, 10) : 0;
    return result;
  }
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string sqlstate = state ? state : "";
  std::string detail = primary ? primary : PQerrorMessage(conn_);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) {
    detail.pop_back();
  }
  if (result) {
    PQclear(result);
  }
  if (sqlstate == "23505") {
    return fail(Error::conflict("already exists (" + detail + ")"));
  }
  if (sqlstate.starts_with("08") || PQstatus(conn_) != CONNECTION_OK) {
    return fail(Error::unavailable("lost the connection to PostgreSQL during " + std::string(what),
                                   "database_unavailable"));
  }
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    return fail(Error::unavailable("database is busy: " + std::string(what), "database_busy"));
  }
  return fail(Error::internal("database error during " + std::string(what) + ": " + detail +
                              (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")")));
}

Result<void> Connection::exec(std::string_view sql) {
  const bool ends = starts_with_word(sql, "ROLLBACK") || starts_with_word(sql, "COMMIT");
  if (ends) {
    in_transaction_ = false;  // whatever happens next, no transaction of ours is open after it
  }
  if (!starts_with_word(sql, "ROLLBACK")) {
    if (auto c = ensure_connected("exec"); !c) {
      return c;
    }
  }
  std::string text(sql);
  auto checked = check(PQexec(conn_, text.c_str()), "exec");
  if (!checked) {
    return fail(checked.error());
  }
  PQclear(*checked);
  if (starts_with_word(sql, "BEGIN")) {
    in_transaction_ = true;
  }
  return {};
}

}  // namespace keygate::pg
