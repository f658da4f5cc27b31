#pragma once
// libpq, loaded when keygate first talks to PostgreSQL rather than when it starts. The embedded
// default (SQLite) never maps it, nor its dependency tree (GnuTLS, Kerberos, LDAP, SASL, ...):
// 3.4 MB of resident memory on Debian bookworm. libpq_loader.cpp defines the PQ* functions
// keygate calls, with libpq-fe.h's own signatures, each forwarding to the library's.

#include <string>

namespace keygate::pg {

// Empty while libpq loads (or has not been needed yet); else why it could not be loaded (the
// libpq5 package missing), for the error a connection attempt reports.
std::string libpq_load_error();

}  // namespace keygate::pg
