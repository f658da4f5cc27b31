#include <catch2/catch.hpp>

#include <array>

#include "keystore/base62.hpp"

using namespace keygate;

TEST_CASE("base62 encodes big-endian with fixed width", "[base62]") {
  std::array<unsigned char, 1> v61{61};
  CHECK(base62_encode(v61, 3) == "00z");
  std::array<unsigned char, 2> v62{0, 62};
  CHECK(base62_encode(v62, 2) == "10");
  std::array<unsigned char, 32> max{};
  max.fill(0xff);
  CHECK(base62_encode(max, 43).size() == 43);  // 2^256-1 fits in 43 digits
  std::array<unsigned char, 4> max4{0xff, 0xff, 0xff, 0xff};
  CHECK(base62_encode(max4, 6).size() == 6);
}

TEST_CASE("random ids have the prefix and base62 body", "[base62]") {
  std::string id = random_id("usr_");
  CHECK(id.size() == 24);
  CHECK(id.starts_with("usr_"));
  CHECK(is_base62(id.substr(4)));
  CHECK(random_id("usr_") != id);
  CHECK_FALSE(is_base62("ab-c"));
}
