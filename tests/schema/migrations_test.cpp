#include <catch2/catch.hpp>

#include "schema/migrations.hpp"

using namespace keygate;

TEST_CASE("migrations are numbered 1..N without gaps and have SQL", "[migrations]") {
  auto list = migrations();
  REQUIRE_FALSE(list.empty());
  for (size_t i = 0; i < list.size(); ++i) {
    CHECK(list[i].version == static_cast<int>(i) + 1);
    CHECK_FALSE(list[i].name.empty());
    const std::string_view sql = list[i].sql;
    CHECK((sql.find("CREATE") != std::string_view::npos ||
           sql.find("ALTER TABLE") != std::string_view::npos));
  }
  CHECK(latest_schema_version() == list.back().version);
}

TEST_CASE("the schema keeps secrets out of plaintext columns", "[migrations]") {
  std::string_view sql = migrations().front().sql;
  // Tokens are stored as a hash and provider keys as ciphertext; a plaintext column would be a
  // regression.
  CHECK(sql.find("hash          BLOB NOT NULL UNIQUE") != std::string_view::npos);
  CHECK(sql.find("ciphertext") != std::string_view::npos);
  CHECK(sql.find("api_key") == std::string_view::npos);
}
