#include "providers/wire.hpp"

#include <algorithm>
#include <ctime>

#include "schema/json.hpp"

namespace keygate::providers::wire {

Error bad_request(std::string message, std::string param) {
  return Error::invalid_request(std::move(message), std::move(param));
}

Error bad_upstream(std::string_view provider, std::string message) {
  return {502,
          "upstream_error",
          "upstream_invalid_response",
          std::string(provider) + " sent an unexpected response: " + std::move(message),
          {},
          false};
}

Value str_value(std::string_view s, Allocator& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

const Value* find(const Value& obj, const char* name) {
  if (!obj.IsObject()) {
    return nullptr;
  }
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return nullptr;
  }
  return &it->value;
}

Result<std::string_view> up_string(std::string_view provider, const Value& obj, const char* name) {
  const Value* v = find(obj, name);
  if (v == nullptr) {
    return std::string_view{};
  }
  if (!v->IsString()) {
    return fail(bad_upstream(provider, std::string("'") + name + "' is not a string"));
  }
  return as_view(*v);
}

Result<int64_t> up_int(std::string_view provider, const Value& obj, const char* name) {
  const Value* v = find(obj, name);
  if (v == nullptr) {
    return -1;
  }
  if (!v->IsInt64()) {
    return fail(bad_upstream(provider, std::string("'") + name + "' is not an integer"));
  }
  return v->GetInt64();
}

Result<std::string_view> client_string(const Value& obj, const char* name,
                                       const std::string& param) {
  const Value* v = find(obj, name);
  if (v == nullptr) {
    return std::string_view{};
  }
  if (!v->IsString()) {
    return fail(bad_request("'" + param + "' must be a string.", param));
  }
  return as_view(*v);
}

bool is_claude_tool_type(std::string_view type) {
  constexpr std::size_t kStamp = 9;  // "_20250305"
  if (type.size() <= kStamp || type[type.size() - kStamp] != '_') {
    return false;
  }
  return std::all_of(type.end() - (kStamp - 1), type.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

Result<void> refuse_claude_tools(const Value& request, std::string_view provider) {
  const Value* tools = find(request, "tools");
  if (tools == nullptr || !tools->IsArray()) {
    return {};
  }
  for (rapidjson::SizeType i = 0; i < tools->Size(); ++i) {
    const Value* type = find((*tools)[i], "type");
    if (type != nullptr && type->IsString() && is_claude_tool_type(as_view(*type))) {
      const std::string param = "tools[" + std::to_string(i) + "]";
      return fail(Error::invalid_request(
          "'" + param + "' is Claude's own tool '" + std::string(as_view(*type)) + "', which " +
              std::string(provider) + " cannot run. Send it to a Claude model.",
          param + ".type", "unsupported_tool"));
    }
  }
  return {};
}

Result<void> copy_cache_control(const Value& from, Value& to, const std::string& param,
                                Allocator& a) {
  const Value* mark = find(from, "cache_control");
  if (mark == nullptr) {
    return {};
  }
  if (!mark->IsObject()) {
    return fail(
        bad_request("'" + param + ".cache_control' must be an object.", param + ".cache_control"));
  }
  to.RemoveMember("cache_control");
  to.AddMember("cache_control", Value(*mark, a), a);
  return {};
}

std::optional<DataUrl> parse_base64_data_url(std::string_view url) {
  if (!url.starts_with("data:")) {
    return std::nullopt;
  }
  const auto comma = url.find(',');
  if (comma == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kBase64 = ";base64";
  if (!meta.ends_with(kBase64) || meta.size() <= kBase64.size()) {
    return std::nullopt;
  }
  return DataUrl{meta.substr(0, meta.size() - kBase64.size()), url.substr(comma + 1)};
}

std::expected<FirstChoice, std::string> first_choice(const Value& answer) {
  const Value* choices = find(answer, "choices");
  if (choices == nullptr || !choices->IsArray() || choices->Empty()) {
    return std::unexpected("it has no choices");
  }
  const Value& choice = (*choices)[0];
  const Value* message = find(choice, "message");
  if (message == nullptr || !message->IsObject()) {
    return std::unexpected("its first choice has no message");
  }
  return FirstChoice{&choice, message};
}

std::string generated_id() {
  static thread_local uint64_t counter = 0;
  return "chatcmpl-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(++counter);
}

}  // namespace keygate::providers::wire
