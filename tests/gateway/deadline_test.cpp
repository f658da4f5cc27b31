// gateway/deadline.hpp on a real io_context and clock: when the expiry runs, and when it must not.

#include <catch2/catch.hpp>

#include <chrono>

#include "gateway/deadline.hpp"

using namespace keygate::gateway;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Runs `ioc` until `done` or `limit` passes.
template <class Done>
void run_until(net::io_context& ioc, Done done, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (!done() && Clock::now() < end) {
    ioc.run_for(5ms);
  }
}

}  // namespace

TEST_CASE("a deadline runs its expiry once it passes, not before", "[deadline]") {
  net::io_context ioc;
  Clock::time_point fired{};
  Deadline deadline(ioc.get_executor(), [&] { fired = Clock::now(); });
  const auto t0 = Clock::now();
  deadline.expires_after(100ms);
  run_until(
      ioc, [&] { return fired != Clock::time_point{}; }, 2000ms);
  REQUIRE(fired != Clock::time_point{});
  CHECK(fired - t0 >= 100ms);
  CHECK(deadline.expired());
  CHECK(deadline.outcome(net::error::operation_aborted) == beast::error::timeout);
  CHECK(!deadline.outcome(error_code{}));
}

TEST_CASE("a deadline pushed back again and again does not expire", "[deadline]") {
  net::io_context ioc;
  int fired = 0;
  Deadline deadline(ioc.get_executor(), [&] { ++fired; });
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < 500ms) {  // five times the timeout
    deadline.expires_after(100ms);
    ioc.run_for(30ms);
  }
  CHECK(fired == 0);
  CHECK(!deadline.expired());
  CHECK(deadline.outcome(net::error::operation_aborted) == net::error::operation_aborted);
  deadline.expires_never();
  ioc.run_for(300ms);
  CHECK(fired == 0);
}

TEST_CASE("a deadline moved earlier than its timer expires at the earlier time", "[deadline]") {
  net::io_context ioc;
  Clock::time_point fired{};
  Deadline deadline(ioc.get_executor(), [&] { fired = Clock::now(); });
  deadline.expires_after(10s);
  ioc.run_for(20ms);
  const auto t0 = Clock::now();
  deadline.expires_after(100ms);
  run_until(
      ioc, [&] { return fired != Clock::time_point{}; }, 2000ms);
  REQUIRE(fired != Clock::time_point{});
  CHECK(fired - t0 < 1000ms);
}

TEST_CASE("a rebound deadline keeps its time and expires on the new executor", "[deadline]") {
  net::io_context first;
  net::io_context second;
  bool fired = false;
  Deadline deadline(first.get_executor(), [&] { fired = true; });
  deadline.expires_after(100ms);
  deadline.rebind(second.get_executor());
  first.run_for(300ms);
  CHECK(!fired);
  run_until(
      second, [&] { return fired; }, 2000ms);
  CHECK(fired);
}
