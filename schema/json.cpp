#include "schema/json.hpp"

#include <rapidjson/error/en.h>

namespace keygate {

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<rapidjson::Document> parse_json_object(std::string_view text, bool relaxed) {
  rapidjson::Document doc;
  if (relaxed) {
    constexpr unsigned kFlags = rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag;
    doc.Parse<kFlags>(text.data(), text.size());
  } else {
    doc.Parse(text.data(), text.size());
  }
  if (doc.HasParseError()) {
    return fail(Error::invalid_request(
        std::string("Invalid JSON at offset ") + std::to_string(doc.GetErrorOffset()) + ": " +
            rapidjson::GetParseError_En(doc.GetParseError()),
        {}, "invalid_json"));
  }
  if (!doc.IsObject()) {
    return fail(Error::invalid_request("The JSON body must be an object.", {}, "invalid_json"));
  }
  return doc;
}

namespace {
Error wrong_type(const char* name, const char* want) {
  return Error::invalid_request(std::string("'") + name + "' must be " + want + ".", name,
                                "invalid_type");
}
}  // namespace

Result<std::optional<std::string>> get_string(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<std::string>{};
  }
  if (!it->value.IsString()) {
    return fail(wrong_type(name, "a string"));
  }
  return std::optional<std::string>(std::string(as_view(it->value)));
}

Result<std::optional<double>> get_number(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<double>{};
  }
  if (!it->value.IsNumber()) {
    return fail(wrong_type(name, "a number"));
  }
  return std::optional<double>(it->value.GetDouble());
}

Result<std::optional<int64_t>> get_int(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<int64_t>{};
  }
  if (!it->value.IsInt64()) {
    return fail(wrong_type(name, "an integer"));
  }
  return std::optional<int64_t>(it->value.GetInt64());
}

Result<std::optional<bool>> get_bool(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return std::optional<bool>{};
  }
  if (!it->value.IsBool()) {
    return fail(wrong_type(name, "a boolean"));
  }
  return std::optional<bool>(it->value.GetBool());
}

}  // namespace keygate
