// libpq is loaded when keygate first talks to PostgreSQL (keystore/libpq_loader.hpp), so the
// embedded SQLite default never maps it nor its dependencies (3.4 MB resident on Debian bookworm).
// Each probe runs in a process of its own (this test binary, run again with a hidden tag), where
// nothing else has loaded libpq; whether it is loaded is asked of the dynamic loader itself.

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "keystore/postgres.hpp"
#include "test_support.hpp"

using namespace keygate;
using namespace keygate::testing;

namespace {

bool libpq_is_loaded() {
  void* handle = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD);
  if (handle != nullptr) {
    ::dlclose(handle);  // RTLD_NOLOAD took a reference
  }
  return handle != nullptr;
}

// Runs this test binary on the hidden test case named `name`: its exit status (0: it passed).
int run_probe(const std::string& name) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(self.c_str(), self.c_str(), name.c_str(), "--out", "/dev/null",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("libpq probe: a SQLite keystore at work", "[.][libpq_probe]") {
  TempDir dir;
  auto ks = Keystore::open(dir.file("k.db"), test_master_key(1));
  REQUIRE(ks.has_value());
  const std::string user = make_user(**ks, "alice");
  REQUIRE((*ks)->create_token(user, "t", std::nullopt).has_value());
  REQUIRE((*ks)->ping().has_value());
  REQUIRE_FALSE(libpq_is_loaded());
}

TEST_CASE("libpq probe: a PostgreSQL connection attempt", "[.][libpq_probe]") {
  REQUIRE_FALSE(libpq_is_loaded());
  // No server there: the attempt fails, after loading libpq.
  auto c = pg::Connection::open("postgresql://keygate@127.0.0.1:1/none?connect_timeout=2");
  CHECK_FALSE(c.has_value());
  REQUIRE(libpq_is_loaded());
}

TEST_CASE("libpq is loaded only when keygate talks to PostgreSQL", "[libpq]") {
  // Guards against libpq linked (or loaded) at start again: every embedded instance would carry
  // GnuTLS, Kerberos and LDAP in its memory for nothing. The second probe is the control: a
  // probe that cannot see libpq would fail it.
  CHECK(run_probe("libpq probe: a SQLite keystore at work") == 0);
  CHECK(run_probe("libpq probe: a PostgreSQL connection attempt") == 0);
}
