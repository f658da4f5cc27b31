// The rule that sizes an upstream connection's reads (gateway/buffered_parse.hpp): big reads
// while a burst lasts, small ones when the next read will wait.

#include <catch2/catch.hpp>

#include "gateway/buffered_parse.hpp"

using keygate::gateway::AdaptiveReadSize;

TEST_CASE("a read that got all it asked for makes the next one four times larger, up to 64 KiB",
          "[read_size]") {
  AdaptiveReadSize size;
  CHECK(size.next() == 16384);
  size.completed(4096, 4096);
  CHECK(size.next() == 16384);
  size.completed(16384, 16384);
  CHECK(size.next() == 65536);
  size.completed(65536, 65536);
  CHECK(size.next() == 65536);
}

TEST_CASE("a short read makes the next one small, and a full small one grows again",
          "[read_size]") {
  AdaptiveReadSize size;
  size.completed(4096, 4096);
  size.completed(16384, 700);  // the socket was drained: the next read will likely wait
  CHECK(size.next() == AdaptiveReadSize::kWaiting);
  size.completed(AdaptiveReadSize::kWaiting, AdaptiveReadSize::kWaiting);
  CHECK(size.next() == 4 * AdaptiveReadSize::kWaiting);
  size.completed(2048, 0);  // EOF
  CHECK(size.next() == AdaptiveReadSize::kWaiting);
}

TEST_CASE("a new response on a kept-alive connection starts from the first size again",
          "[read_size]") {
  AdaptiveReadSize size;
  size.completed(4096, 10);
  REQUIRE(size.next() == AdaptiveReadSize::kWaiting);
  size.restart();
  CHECK(size.next() == AdaptiveReadSize::kFirst);
}
