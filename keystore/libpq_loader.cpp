#include "keystore/libpq_loader.hpp"

#include <dlfcn.h>
#include <libpq-fe.h>

#include <mutex>
#include <type_traits>

namespace keygate::pg {

namespace {

// Debian's soname for libpq (package libpq5), stable since PostgreSQL 8.2.
constexpr const char* kLibrary = "libpq.so.5";

struct Library {
  void* handle = nullptr;
  std::string error;
};

const Library& library() {
  static const Library loaded = [] {
    Library l;
    // RTLD_LOCAL: its symbols stay out of the global scope, and its own calls stay its own.
    l.handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (l.handle == nullptr) {
      const char* why = ::dlerror();
      l.error = std::string("cannot load ") + kLibrary +
                " (install libpq5): " + (why != nullptr ? why : "unknown error");
    }
    return l;
  }();
  return loaded;
}

void* symbol(const char* name) {
  const Library& l = library();
  return l.handle != nullptr ? ::dlsym(l.handle, name) : nullptr;
}

// Calls libpq's own `F` (looked up once). Without the library, functions that make a connection
// return null, which callers report as a failed connection; the rest are only reached with a
// connection or result libpq made, except PQfinish/PQclear/PQfreemem on null, which do nothing.
template <auto F, class... Args>
auto forward(const char* name, Args... args) {
  using Fn = decltype(F);
  using Result = std::invoke_result_t<Fn, Args...>;
  static const Fn real = reinterpret_cast<Fn>(symbol(name));
  if constexpr (std::is_void_v<Result>) {
    if (real != nullptr) {
      real(args...);
    }
  } else {
    return real != nullptr ? real(args...) : Result{};
  }
}

}  // namespace

std::string libpq_load_error() {
  return library().error;
}

}  // namespace keygate::pg

using keygate::pg::forward;

#define KG_PQ(name, ...) forward<&::name>(#name, __VA_ARGS__)

extern "C" {

PGconn* PQconnectdbParams(const char* const* keywords, const char* const* values,
                          int expand_dbname) {
  return KG_PQ(PQconnectdbParams, keywords, values, expand_dbname);
}
PGconn* PQconnectStartParams(const char* const* keywords, const char* const* values,
                             int expand_dbname) {
  return KG_PQ(PQconnectStartParams, keywords, values, expand_dbname);
}
PostgresPollingStatusType PQconnectPoll(PGconn* conn) {
  return KG_PQ(PQconnectPoll, conn);
}
void PQfinish(PGconn* conn) {
  KG_PQ(PQfinish, conn);
}
void PQreset(PGconn* conn) {
  KG_PQ(PQreset, conn);
}
ConnStatusType PQstatus(const PGconn* conn) {
  return KG_PQ(PQstatus, conn);
}
char* PQerrorMessage(const PGconn* conn) {
  return KG_PQ(PQerrorMessage, conn);
}
int PQsocket(const PGconn* conn) {
  return KG_PQ(PQsocket, conn);
}
PQnoticeProcessor PQsetNoticeProcessor(PGconn* conn, PQnoticeProcessor proc, void* arg) {
  return KG_PQ(PQsetNoticeProcessor, conn, proc, arg);
}
PGresult* PQexec(PGconn* conn, const char* query) {
  return KG_PQ(PQexec, conn, query);
}
PGresult* PQexecParams(PGconn* conn, const char* command, int nParams, const Oid* paramTypes,
                       const char* const* paramValues, const int* paramLengths,
                       const int* paramFormats, int resultFormat) {
  return KG_PQ(PQexecParams, conn, command, nParams, paramTypes, paramValues, paramLengths,
               paramFormats, resultFormat);
}
int PQsendQuery(PGconn* conn, const char* query) {
  return KG_PQ(PQsendQuery, conn, query);
}
PGresult* PQgetResult(PGconn* conn) {
  return KG_PQ(PQgetResult, conn);
}
int PQisBusy(PGconn* conn) {
  return KG_PQ(PQisBusy, conn);
}
int PQconsumeInput(PGconn* conn) {
  return KG_PQ(PQconsumeInput, conn);
}
int PQflush(PGconn* conn) {
  return KG_PQ(PQflush, conn);
}
PGnotify* PQnotifies(PGconn* conn) {
  return KG_PQ(PQnotifies, conn);
}
void PQfreemem(void* ptr) {
  KG_PQ(PQfreemem, ptr);
}
void PQclear(PGresult* res) {
  KG_PQ(PQclear, res);
}
ExecStatusType PQresultStatus(const PGresult* res) {
  return KG_PQ(PQresultStatus, res);
}
char* PQresultErrorField(const PGresult* res, int fieldcode) {
  return KG_PQ(PQresultErrorField, res, fieldcode);
}
int PQntuples(const PGresult* res) {
  return KG_PQ(PQntuples, res);
}
int PQnfields(const PGresult* res) {
  return KG_PQ(PQnfields, res);
}
char* PQgetvalue(const PGresult* res, int tup_num, int field_num) {
  return KG_PQ(PQgetvalue, res, tup_num, field_num);
}
int PQgetlength(const PGresult* res, int tup_num, int field_num) {
  return KG_PQ(PQgetlength, res, tup_num, field_num);
}
int PQgetisnull(const PGresult* res, int tup_num, int field_num) {
  return KG_PQ(PQgetisnull, res, tup_num, field_num);
}
char* PQcmdTuples(PGresult* res) {
  return KG_PQ(PQcmdTuples, res);
}

}  // extern "C"
