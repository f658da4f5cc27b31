// ClientWatchTimer: requests still running after the delay are handed to their sessions to
// watch for a hang-up; requests that ended before it never are.

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "gateway/client_watch.hpp"

using namespace std::chrono_literals;
using keygate::gateway::ClientWatchTimer;
using Clock = ClientWatchTimer::Clock;
namespace net = boost::asio;

namespace {

struct Recorded {
  std::vector<uint64_t> requests;
  std::vector<Clock::time_point> at;
};

void record_into(ClientWatchTimer::Entry& entry, Recorded& into) {
  entry.on_due = [&into](uint64_t request) {
    into.requests.push_back(request);
    into.at.push_back(Clock::now());
  };
}

}  // namespace

TEST_CASE("a request still running after the delay is handed over once; one that ended is not",
          "[client_watch]") {
  // Guards against: a finished request's session being told to watch (a peek, or worse a
  // cancel, on the next request), and a long one never being watched (its hang-up unnoticed).
  net::io_context ioc;
  ClientWatchTimer watch(ioc, 40ms);
  ClientWatchTimer::Entry ended, running, later;
  Recorded ended_got, running_got, later_got;
  record_into(ended, ended_got);
  record_into(running, running_got);
  record_into(later, later_got);
  const auto start = Clock::now();
  watch.add(ended, start, 1);
  watch.add(running, start, 7);
  watch.remove(ended);
  watch.remove(ended);  // twice, as a session's destructor may after its request ended
  ioc.run_for(300ms);
  CHECK(ended_got.requests.empty());
  REQUIRE(running_got.requests == std::vector<uint64_t>{7});
  CHECK(running_got.at[0] - start >= 40ms);
  CHECK(later_got.requests.empty());
}

TEST_CASE("a re-registered entry is due for its new request only", "[client_watch]") {
  // A keep-alive session registers the same entry for each request: the first request's
  // registration must not fire for the second.
  net::io_context ioc;
  ClientWatchTimer watch(ioc, 40ms);
  ClientWatchTimer::Entry entry;
  Recorded got;
  record_into(entry, got);
  watch.add(entry, Clock::now(), 1);
  watch.remove(entry);
  const auto second = Clock::now() + 100ms;  // a request that "starts" later
  watch.add(entry, second, 2);
  ioc.run_for(80ms);
  CHECK(got.requests.empty());  // the first request's due time passed, its entry was gone
  ioc.restart();
  ioc.run_for(300ms);
  REQUIRE(got.requests == std::vector<uint64_t>{2});
  CHECK(got.at[0] >= second + 40ms);
}

TEST_CASE("an old request is due at the first tick, in the order requests started",
          "[client_watch]") {
  net::io_context ioc;
  ClientWatchTimer watch(ioc, 1000ms);
  ClientWatchTimer::Entry a, b;
  std::vector<uint64_t> order;
  a.on_due = [&](uint64_t r) { order.push_back(r); };
  b.on_due = [&](uint64_t r) { order.push_back(r); };
  const auto long_ago = Clock::now() - 5s;
  watch.add(a, long_ago, 1);
  watch.add(b, long_ago + 1ms, 2);
  const auto start = Clock::now();
  ioc.run_for(2000ms);
  CHECK(order == std::vector<uint64_t>{1, 2});
  // The timer stops once nothing is registered: run_for returned for want of work, long before
  // its 2 s, and within about a quarter of the delay (its shortest sleep).
  CHECK(Clock::now() - start < 1000ms);
}
