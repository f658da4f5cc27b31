#include "gateway/embeddings_request.hpp"

#include <string>

#include "schema/json.hpp"

namespace keygate::gateway {
namespace {

Error bad_input(std::string message) {
  return Error::invalid_request(std::move(message), "input", "invalid_input");
}

bool is_token(const rapidjson::Value& v) {
  return v.IsInt64() && v.GetInt64() >= 0;
}

bool is_token_list(const rapidjson::Value& v) {
  if (!v.IsArray() || v.Empty()) {
    return false;
  }
  for (const auto& t : v.GetArray()) {
    if (!is_token(t)) {
      return false;
    }
  }
  return true;
}

Result<void> check_input(const rapidjson::Value& input) {
  constexpr const char* kShapes =
      "'input' must be a non-empty string, or a non-empty array of strings, of token ids, or of "
      "arrays of token ids.";
  if (input.IsString()) {
    if (input.GetStringLength() == 0) {
      return fail(bad_input("'input' must not be an empty string."));
    }
    return {};
  }
  if (!input.IsArray() || input.Empty()) {
    return fail(bad_input(kShapes));
  }
  const rapidjson::Value& first = input[0];
  for (rapidjson::SizeType i = 0; i < input.Size(); ++i) {
    const rapidjson::Value& item = input[i];
    const auto at = [i] { return "input[" + std::to_string(i) + "]"; };
    if (first.IsString()) {
      if (!item.IsString()) {
        return fail(bad_input(at() + " is not a string; an array of texts holds only strings."));
      }
      if (item.GetStringLength() == 0) {
        return fail(bad_input(at() + " must not be an empty string."));
      }
    } else if (is_token(first)) {
      if (!is_token(item)) {
        return fail(bad_input(at() + " is not a token id (an integer, 0 or more)."));
      }
    } else if (first.IsArray()) {
      if (!is_token_list(item)) {
        return fail(bad_input(at() + " must be a non-empty array of token ids."));
      }
    } else {
      return fail(bad_input(kShapes));
    }
  }
  return {};
}

}  // namespace

Result<void> validate_embeddings_request(const rapidjson::Document& request) {
  auto model = request.FindMember("model");
  if (model == request.MemberEnd() || !model->value.IsString() ||
      model->value.GetStringLength() == 0) {
    return fail(Error::invalid_request("'model' is required and must be a non-empty string.",
                                       "model", "missing_field"));
  }
  auto input = request.FindMember("input");
  if (input == request.MemberEnd() || input->value.IsNull()) {
    return fail(Error::invalid_request("'input' is required: the text (or texts) to embed.",
                                       "input", "missing_field"));
  }
  if (auto ok = check_input(input->value); !ok) {
    return ok;
  }
  if (auto format = request.FindMember("encoding_format");
      format != request.MemberEnd() && !format->value.IsNull()) {
    const std::string_view f = format->value.IsString() ? as_view(format->value) : "";
    if (f != "float" && f != "base64") {
      return fail(Error::invalid_request("'encoding_format' must be \"float\" or \"base64\".",
                                         "encoding_format", "invalid_value"));
    }
  }
  if (auto dimensions = request.FindMember("dimensions");
      dimensions != request.MemberEnd() && !dimensions->value.IsNull()) {
    if (!dimensions->value.IsInt64() || dimensions->value.GetInt64() < 1) {
      return fail(Error::invalid_request("'dimensions' must be a positive integer.", "dimensions",
                                         "invalid_value"));
    }
  }
  return {};
}

}  // namespace keygate::gateway
