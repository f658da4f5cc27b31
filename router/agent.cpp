#include "router/agent.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>

#include "schema/json.hpp"

namespace keygate::router {
namespace {

constexpr std::size_t kMaxStop = 4;  // OpenAI's limit on stop sequences
constexpr std::size_t kMaxFallbacks = 8;

Error bad(std::string message, std::string param, std::string code = "invalid_value") {
  return Error::invalid_request(std::move(message), std::move(param), std::move(code));
}

std::string format_bound(double d) {
  return std::to_string(static_cast<int>(d));
}

// `where` prefixes the param name in errors: "params." for agents, "" for chat requests.
Result<double> number_in(const rapidjson::Value& v, const char* name, const std::string& where,
                         double lo, double hi) {
  const std::string param = where + name;
  if (!v.IsNumber()) {
    return fail(bad("'" + param + "' must be a number.", param, "invalid_type"));
  }
  double d = v.GetDouble();
  if (!(d >= lo && d <= hi)) {  // also refuses NaN
    return fail(bad(
        "'" + param + "' must be between " + format_bound(lo) + " and " + format_bound(hi) + ".",
        param));
  }
  return d;
}

Result<int64_t> max_tokens_in(const rapidjson::Value& v, const std::string& param,
                              const providers::ModelInfo* model) {
  if (!v.IsInt64()) {
    return fail(bad("'" + param + "' must be an integer.", param, "invalid_type"));
  }
  int64_t n = v.GetInt64();
  if (n < 1) {
    return fail(bad("'" + param + "' must be at least 1.", param));
  }
  if (model != nullptr && model->max_output_tokens > 0 && n > model->max_output_tokens) {
    return fail(bad("'" + param + "' is " + std::to_string(n) + ", but " + model->id +
                        " writes at most " + std::to_string(model->max_output_tokens) + " tokens.",
                    param));
  }
  return n;
}

Result<std::vector<std::string>> stop_in(const rapidjson::Value& v, const std::string& param,
                                         bool& is_string) {
  std::vector<std::string> out;
  is_string = v.IsString();
  if (v.IsString()) {
    out.emplace_back(v.GetString(), v.GetStringLength());
    return out;
  }
  if (!v.IsArray() || v.Size() > kMaxStop) {
    return fail(bad("'" + param + "' must be a string or an array of at most 4 strings.", param,
                    "invalid_type"));
  }
  for (const auto& s : v.GetArray()) {
    if (!s.IsString()) {
      return fail(bad("'" + param + "' must hold only strings.", param, "invalid_type"));
    }
    out.emplace_back(s.GetString(), s.GetStringLength());
  }
  return out;
}

Result<AgentParams> parse_params(const rapidjson::Value& v, const providers::ModelInfo* model) {
  AgentParams p;
  if (v.IsNull()) {
    return p;
  }
  if (!v.IsObject()) {
    return fail(bad("'params' must be an object.", "params", "invalid_type"));
  }
  const std::string where = "params.";
  for (const auto& m : v.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsNull()) {
      continue;  // null: not set
    }
    if (name == "temperature") {
      auto t = number_in(m.value, "temperature", where, 0, 2);
      if (!t) {
        return fail(t.error());
      }
      p.temperature = *t;
    } else if (name == "top_p") {
      auto t = number_in(m.value, "top_p", where, 0, 1);
      if (!t) {
        return fail(t.error());
      }
      p.top_p = *t;
    } else if (name == "max_tokens") {
      auto n = max_tokens_in(m.value, where + name, model);
      if (!n) {
        return fail(n.error());
      }
      p.max_tokens = *n;
    } else if (name == "stop") {
      auto s = stop_in(m.value, where + name, p.stop_is_string);
      if (!s) {
        return fail(s.error());
      }
      p.stop = std::move(*s);
    } else {
      return fail(bad("Unknown agent parameter '" + name +
                          "'. Agents may set temperature, top_p, max_tokens and stop.",
                      where + name, "unknown_parameter"));
    }
  }
  return p;
}

Result<std::vector<std::string>> parse_fallbacks(const rapidjson::Value& v) {
  std::vector<std::string> out;
  if (v.IsNull()) {
    return out;
  }
  if (!v.IsArray() || v.Size() > kMaxFallbacks) {
    return fail(
        bad("'fallbacks' must be an array of at most 8 model names.", "fallbacks", "invalid_type"));
  }
  for (const auto& f : v.GetArray()) {
    if (!f.IsString() || f.GetStringLength() == 0) {
      return fail(
          bad("'fallbacks' must hold only non-empty model names.", "fallbacks", "invalid_type"));
    }
    out.emplace_back(f.GetString(), f.GetStringLength());
  }
  return out;
}

void write_params(rapidjson::Writer<rapidjson::StringBuffer>& w, const AgentParams& p) {
  w.StartObject();
  if (p.temperature) {
    w.Key("temperature");
    w.Double(*p.temperature);
  }
  if (p.top_p) {
    w.Key("top_p");
    w.Double(*p.top_p);
  }
  if (p.max_tokens) {
    w.Key("max_tokens");
    w.Int64(*p.max_tokens);
  }
  if (p.stop) {
    w.Key("stop");
    if (p.stop_is_string && p.stop->size() == 1) {
      w.String(p.stop->front().c_str(), static_cast<rapidjson::SizeType>(p.stop->front().size()));
    } else {
      w.StartArray();
      for (const auto& s : *p.stop) {
        w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
      }
      w.EndArray();
    }
  }
  w.EndObject();
}

}  // namespace

Result<void> validate_agent_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  }
  if (!ok) {
    return fail(bad("An agent name is 1-64 characters of A-Z, a-z, 0-9, '_', '.' and '-'.", "name",
                    "invalid_name"));
  }
  return {};
}

Result<AgentSpec> parse_agent_body(const rapidjson::Value& body, const ModelResolver& models) {
  if (!body.IsObject()) {
    return fail(bad("The body must be a JSON object.", "", "invalid_type"));
  }
  for (const auto& m : body.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key != "model" && key != "params" && key != "fallbacks" && key != "name") {
      return fail(bad("Unknown field '" + std::string(key) +
                          "'. An agent has 'model', 'params' and 'fallbacks'.",
                      std::string(key), "unknown_field"));
    }
  }
  AgentSpec spec;
  auto model = body.FindMember("model");
  if (model == body.MemberEnd() || !model->value.IsString() ||
      model->value.GetStringLength() == 0) {
    return fail(bad("'model' is required: a model such as 'anthropic/claude-sonnet-4-5'.", "model",
                    "missing_field"));
  }
  spec.model = as_view(model->value);
  if (agent_from_model(spec.model)) {
    return fail(bad("An agent's model cannot be another agent.", "model"));
  }
  auto primary = models.resolve(spec.model);
  if (!primary) {
    return fail(primary.error());
  }
  const auto* info = primary->provider->find_model(primary->model);
  if (auto p = body.FindMember("params"); p != body.MemberEnd()) {
    auto params = parse_params(p->value, info);
    if (!params) {
      return fail(params.error());
    }
    spec.params = std::move(*params);
  }
  if (auto f = body.FindMember("fallbacks"); f != body.MemberEnd()) {
    auto fallbacks = parse_fallbacks(f->value);
    if (!fallbacks) {
      return fail(fallbacks.error());
    }
    for (const auto& name : *fallbacks) {
      if (agent_from_model(name)) {
        return fail(bad("A fallback cannot be an agent: '" + name + "'.", "fallbacks"));
      }
      if (auto t = models.resolve(name); !t) {
        Error e = t.error();
        e.param = "fallbacks";
        e.message = "Fallback '" + name + "': " + e.message;
        return fail(std::move(e));
      }
    }
    spec.fallbacks = std::move(*fallbacks);
  }
  return spec;
}

Result<AgentSpec> parse_stored_agent(std::string_view model, std::string_view params_json,
                                     std::string_view fallbacks_json) {
  AgentSpec spec;
  spec.model = model;
  rapidjson::Document params;
  params.Parse(params_json.empty() ? "{}" : std::string(params_json).c_str());
  if (params.HasParseError()) {
    return fail(Error::internal("stored agent params are not JSON"));
  }
  auto p = parse_params(params, nullptr);
  if (!p) {
    return fail(p.error());
  }
  spec.params = std::move(*p);
  rapidjson::Document fallbacks;
  fallbacks.Parse(fallbacks_json.empty() ? "[]" : std::string(fallbacks_json).c_str());
  if (fallbacks.HasParseError()) {
    return fail(Error::internal("stored agent fallbacks are not JSON"));
  }
  auto f = parse_fallbacks(fallbacks);
  if (!f) {
    return fail(f.error());
  }
  spec.fallbacks = std::move(*f);
  return spec;
}

std::string params_to_json(const AgentParams& params) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  write_params(w, params);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string fallbacks_to_json(const std::vector<std::string>& fallbacks) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const auto& f : fallbacks) {
    w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
  }
  w.EndArray();
  return {buffer.GetString(), buffer.GetSize()};
}

Result<void> validate_request_params(const rapidjson::Value& request,
                                     const providers::ModelInfo* model) {
  auto present = [&](const char* name) -> const rapidjson::Value* {
    auto it = request.FindMember(name);
    return it == request.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
  };
  if (const auto* v = present("temperature")) {
    if (auto ok = number_in(*v, "temperature", "", 0, 2); !ok) {
      return fail(ok.error());
    }
  }
  if (const auto* v = present("top_p")) {
    if (auto ok = number_in(*v, "top_p", "", 0, 1); !ok) {
      return fail(ok.error());
    }
  }
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (const auto* v = present(name)) {
      if (auto ok = max_tokens_in(*v, name, model); !ok) {
        return fail(ok.error());
      }
    }
  }
  if (const auto* v = present("stop")) {
    bool is_string = false;
    if (auto ok = stop_in(*v, "stop", is_string); !ok) {
      return fail(ok.error());
    }
  }
  return {};
}

void merge_agent_params(rapidjson::Document& request, const AgentParams& params) {
  auto& a = request.GetAllocator();
  auto unset = [&](const char* name) {
    auto it = request.FindMember(name);
    return it == request.MemberEnd() || it->value.IsNull();
  };
  auto set = [&](const char* name, rapidjson::Value value) {
    request.RemoveMember(name);  // a null the client sent counts as unset
    request.AddMember(rapidjson::StringRef(name), value, a);
  };
  if (params.temperature && unset("temperature")) {
    set("temperature", rapidjson::Value(*params.temperature));
  }
  if (params.top_p && unset("top_p")) {
    set("top_p", rapidjson::Value(*params.top_p));
  }
  if (params.max_tokens && unset("max_tokens") && unset("max_completion_tokens")) {
    set("max_tokens", rapidjson::Value(*params.max_tokens));
  }
  if (params.stop && unset("stop")) {
    rapidjson::Value v;
    if (params.stop_is_string && params.stop->size() == 1) {
      v.SetString(params.stop->front().c_str(),
                  static_cast<rapidjson::SizeType>(params.stop->front().size()), a);
    } else {
      v.SetArray();
      for (const auto& s : *params.stop) {
        v.PushBack(rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a), a);
      }
    }
    set("stop", std::move(v));
  }
}

Result<std::vector<Target>> build_chain(const ModelResolver& models, std::string_view primary,
                                        const std::vector<std::string>& fallbacks) {
  std::vector<Target> chain;
  auto first = models.resolve(primary);
  if (!first) {
    return fail(first.error());
  }
  chain.push_back(std::move(*first));
  std::set<std::pair<std::string, std::string>> seen{
      {chain.front().provider->id, chain.front().model}};
  for (const auto& name : fallbacks) {
    auto t = models.resolve(name);
    if (!t || !seen.emplace(t->provider->id, t->model).second) {
      continue;
    }
    chain.push_back(std::move(*t));
  }
  return chain;
}

std::optional<std::string_view> agent_from_model(std::string_view model) {
  constexpr std::string_view prefix = "agent:";
  if (model.starts_with(prefix)) {
    return model.substr(prefix.size());
  }
  return std::nullopt;
}

}  // namespace keygate::router
