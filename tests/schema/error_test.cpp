#include <catch2/catch.hpp>

#include "schema/error.hpp"
#include "schema/json.hpp"

using namespace keygate;

TEST_CASE("errors serialise in OpenAI's error shape") {
  auto e = Error::invalid_request("'model' is required.", "model", "missing_field");
  auto doc = parse_json_object(e.to_json());
  REQUIRE(doc);
  const auto& err = (*doc)["error"];
  CHECK(std::string(err["message"].GetString()) == "'model' is required.");
  CHECK(std::string(err["type"].GetString()) == "invalid_request_error");
  CHECK(std::string(err["param"].GetString()) == "model");
  CHECK(std::string(err["code"].GetString()) == "missing_field");
  CHECK(e.status == 400);
  CHECK_FALSE(e.retryable);
}

TEST_CASE("upstream errors keep their status and know whether a retry can help") {
  CHECK(Error::upstream_status(429, "slow down").retryable);
  CHECK(Error::upstream_status(503, "overloaded").retryable);
  CHECK_FALSE(Error::upstream_status(400, "bad").retryable);
  CHECK(Error::upstream_status(404, "no such model").status == 404);
  CHECK(Error::upstream_unreachable("refused").status == 502);
  CHECK(Error::upstream_timeout("slow").status == 504);
}

TEST_CASE("provider_key_missing names the provider and how to add a key") {
  auto e = Error::provider_key_missing("anthropic");
  CHECK(e.code == "provider_key_missing");
  CHECK(e.message.find("anthropic") != std::string::npos);
  CHECK(e.message.find("/v1/keys") != std::string::npos);
}

TEST_CASE("typed JSON reads reject wrong types with a 400 naming the field") {
  auto doc = parse_json_object(R"({"model": 5, "stream": true})");
  REQUIRE(doc);
  auto model = get_string(*doc, "model");
  REQUIRE_FALSE(model);
  CHECK(model.error().param == "model");
  CHECK(model.error().status == 400);
  auto stream = get_bool(*doc, "stream");
  REQUIRE(stream);
  CHECK(stream->value() == true);
  CHECK_FALSE(get_string(*doc, "absent")->has_value());
}

TEST_CASE("malformed JSON and non-objects are 400s") {
  CHECK(parse_json_object("{").error().status == 400);
  CHECK(parse_json_object("[1,2]").error().status == 400);
  CHECK(parse_json_object("{/*c*/ \"a\": 1,}", true).has_value());
  CHECK_FALSE(parse_json_object("{/*c*/ \"a\": 1,}", false).has_value());
}
