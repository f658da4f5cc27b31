#pragma once
// A small RAII layer over libpq, shaped like keystore/sqlite.hpp so that keystore code runs on
// either through keystore/database.hpp. Statements are written with SQLite's `?` placeholders;
// they become `$1`, `$2`... here. A statement runs at its first step(): the whole result comes
// back at once and step() walks its rows.
//
// Values travel as parameters, never inside SQL text. Integers, floats and text are sent as text
// with their type (int8, float8, text), blobs in binary as bytea. Errors name the operation and
// PostgreSQL's primary message, never its DETAIL line, which can quote a row's values; a
// UNIQUE violation (SQLSTATE 23505) is a 409, a lost connection a retryable 503.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schema/error.hpp"

struct pg_conn;
struct pg_result;

namespace keygate::pg {

using Blob = std::vector<unsigned char>;

// Whether `target` names a PostgreSQL database (a postgres:// or postgresql:// URI) rather than
// a SQLite file.
bool is_postgres_target(std::string_view target);

// `target` with any password in it replaced by ***, for messages and logs.
std::string redact_target(std::string_view target);

// `?` placeholders (outside quotes and comments) renumbered as $1, $2...
std::string numbered_placeholders(std::string_view sql);

// Connects with keygate's defaults beneath the target's own settings, which win: a 10 s connect
// timeout (libpq's default waits on TCP for minutes) and TCP keepalives that notice a vanished
// server in about a minute (the kernel's default is two hours). The caller owns the result
// (PQfinish) whatever its status.
pg_conn* connect_with_defaults(const std::string& target);
// The same settings, without waiting: PQconnectStartParams, for a caller that drives
// PQconnectPoll itself and so can give up at any moment (connect_timeout does not apply then).
pg_conn* start_connecting_with_defaults(const std::string& target);

// A connection's last error message, without its trailing newline. Never carries a password:
// libpq's messages name the host and port, not the credentials.
std::string connection_error(pg_conn* conn);

class Connection;

class Statement {
 public:
  Statement(Connection* connection, std::string sql);
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind(int index, std::span<const unsigned char> blob);
  Statement& bind(int index, std::nullptr_t);
  // A NULL that keeps its type, so `? IS NULL` needs no cast.
  Statement& bind(int index, const std::optional<int64_t>& value);
  Statement& bind(int index, const std::optional<std::string>& value);
  Statement& bind_static(int index, std::string_view text) { return bind(index, text); }
  Statement& bind_static_or_null(int index, std::string_view text);

  Result<bool> step();
  Result<void> run();
  void reset();   // drops the result and every binding
  void rewind();  // drops the result, keeps the bindings

  bool is_null(int column) const;
  int64_t column_int(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  Blob column_blob(int column) const;
  std::optional<int64_t> column_opt_int(int column) const;
  std::optional<std::string> column_opt_text(int column) const;

 private:
  struct Param {
    std::optional<std::string> value;  // nullopt: NULL
    unsigned int type = 0;             // an Oid; 0 lets the server infer it
    int format = 0;                    // 0 text, 1 binary
  };
  Param& param(int index);
  void clear_result();
  Result<void> execute();
  const char* cell(int column) const;

  Connection* connection_ = nullptr;
  std::string sql_;
  std::vector<Param> params_;
  pg_result* result_ = nullptr;
  bool executed_ = false;
  int rows_ = 0;
  int row_ = -1;  // the row the column getters read
};

class Connection {
 public:
  // Connects (libpq: also PGPASSWORD, ~/.pgpass, PGSSLMODE...). 503 if the server is unreachable.
  static Result<std::unique_ptr<Connection>> open(const std::string& target);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Statement prepare(std::string_view sql) { return Statement(this, numbered_placeholders(sql)); }
  // Runs one or more statements without parameters or results (DDL, BEGIN/COMMIT).
  Result<void> exec(std::string_view sql);
  int64_t changes() const { return changes_; }

 private:
  friend class Statement;
  explicit Connection(pg_conn* conn, std::string target);
  // Reconnects a connection the server dropped, outside a transaction only: inside one, the
  // transaction is gone and the caller must see the failure.
  Result<void> ensure_connected(std::string_view what);
  // Takes ownership of `result`; returns it on success, an Error otherwise (result freed).
  Result<pg_result*> check(pg_result* result, std::string_view what);

  pg_conn* conn_ = nullptr;
  std::string target_;
  int64_t changes_ = 0;
  bool in_transaction_ = false;  // between a BEGIN and its COMMIT or ROLLBACK (exec() tracks it)
};

}  // namespace keygate::pg
