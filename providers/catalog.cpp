#include "providers/catalog.hpp"

#include <algorithm>

#include <boost/url/parse.hpp>

#include <cmath>
#include <initializer_list>
#include <unordered_set>

#include "schema/json.hpp"

namespace keygate::providers {

namespace {

// `where` prefixes every message ("catalog: providers[3].base_url", "config: providers.x") so an
// operator can find the offending line.
Error bad(const std::string& where, const std::string& what) {
  return Error::invalid_request(where + ": " + what, {}, "invalid_provider_config");
}

bool valid_id(std::string_view id) {
  // The id is the "provider/" part of "provider/model" and a key in config and URLs.
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// A base URL we can append "/chat/completions" to: absolute http(s) with a host, and nothing after
// the path. Credentials in the URL are refused: keys belong in the keystore, never in config.
Result<std::string> check_base_url(const std::string& where, std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return fail(bad(where, "base_url '" + std::string(text) + "' is not a valid URL."));
  }
  const auto& url = *parsed;
  if (url.scheme_id() != boost::urls::scheme::http &&
      url.scheme_id() != boost::urls::scheme::https) {
    return fail(bad(where, "base_url '" + std::string(text) + "' must be http or https."));
  }
  if (!url.has_authority() || url.encoded_host().empty()) {
    return fail(bad(where, "base_url '" + std::string(text) + "' has no host."));
  }
  if (url.has_userinfo()) {
    return fail(
        bad(where, "base_url must not carry credentials; add keys with `keygate keys add`."));
  }
  if (url.has_query() || url.has_fragment()) {
    return fail(
        bad(where, "base_url '" + std::string(text) + "' must not have a query or fragment."));
  }
  std::string out(text);
  // "https://host/v1/" + "/chat/completions" would double the slash.
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

Result<std::string> req_string(const std::string& where, const rapidjson::Value& obj,
                               const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) {
    return fail(bad(where, std::string("'") + name + "' is required and must be a string."));
  }
  return std::string(as_view(it->value));
}

// Absent keeps `out` as it is (the default).
Result<void> opt_string(const std::string& where, const rapidjson::Value& obj, const char* name,
                        std::string& out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    return {};
  }
  if (!it->value.IsString()) {
    return fail(bad(where, std::string("'") + name + "' must be a string."));
  }
  out.assign(as_view(it->value));
  return {};
}

Result<void> opt_bool(const std::string& where, const rapidjson::Value& obj, const char* name,
                      bool& out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    return {};
  }
  if (!it->value.IsBool()) {
    return fail(bad(where, std::string("'") + name + "' must be true or false."));
  }
  out = it->value.GetBool();
  return {};
}

Result<void> opt_strings(const std::string& where, const rapidjson::Value& obj, const char* name,
                         std::vector<std::string>& out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    return {};
  }
  if (!it->value.IsArray()) {
    return fail(bad(where, std::string("'") + name + "' must be an array of strings."));
  }
  out.clear();
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString() || v.GetStringLength() == 0) {
      return fail(bad(where, std::string("'") + name + "' must hold non-empty strings."));
    }
    out.emplace_back(as_view(v));
  }
  return {};
}

Result<int64_t> non_negative_int(const std::string& where, const rapidjson::Value& obj,
                                 const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    return 0;
  }
  if (!it->value.IsInt64() || it->value.GetInt64() < 0) {
    return fail(bad(where, std::string("'") + name + "' must be a non-negative integer."));
  }
  return it->value.GetInt64();
}

Result<double> price(const std::string& where, const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) {
    return 0.0;
  }
  if (!it->value.IsNumber() || !std::isfinite(it->value.GetDouble()) || it->value.GetDouble() < 0) {
    return fail(bad(where, std::string("'") + name + "' must be a non-negative number."));
  }
  return it->value.GetDouble();
}

// Unknown fields are refused so a typo ("base_ur") is an error, not a silently ignored setting.
// Fields starting with '_' are comments.
Result<void> only_fields(const std::string& where, const rapidjson::Value& obj,
                         std::initializer_list<std::string_view> allowed) {
  for (const auto& m : obj.GetObject()) {
    std::string_view name = as_view(m.name);
    if (name.starts_with('_')) {
      continue;
    }
    bool known = false;
    for (auto a : allowed) {
      known = known || a == name;
    }
    if (!known) {
      return fail(bad(where, "unknown field '" + std::string(name) + "'."));
    }
  }
  return {};
}

// An optional price: absent keeps `out` empty.
Result<void> opt_price(const std::string& where, const rapidjson::Value& obj, const char* name,
                       std::optional<double>& out) {
  if (!obj.HasMember(name)) {
    return {};
  }
  auto value = price(where, obj, name);
  if (!value) {
    return fail(value.error());
  }
  out = *value;
  return {};
}

// Fields absent keep what `p` holds: the defaults for a new model, the built-in prices for one the
// configuration updates.
Result<void> parse_prices(const std::string& where, const rapidjson::Value& v, TokenPrices& p) {
  for (auto [name, field] :
       {std::pair{"input_usd_per_mtok", &p.input}, std::pair{"output_usd_per_mtok", &p.output}}) {
    if (v.HasMember(name)) {
      auto value = price(where, v, name);
      if (!value) {
        return fail(value.error());
      }
      *field = *value;
    }
  }
  for (auto r : {opt_price(where, v, "cached_input_usd_per_mtok", p.cached_input),
                 opt_price(where, v, "cache_write_usd_per_mtok", p.cache_write),
                 opt_price(where, v, "cache_write_1h_usd_per_mtok", p.cache_write_1h)}) {
    if (!r) {
      return fail(r.error());
    }
  }
  return {};
}

// {"above_input_tokens": N, "input_usd_per_mtok": ..., ...}: the tier's own prices, input and
// output required (a tier that defaulted them to 0 would make long prompts free).
Result<LongContextPrices> parse_long_context(const std::string& where, const rapidjson::Value& v) {
  if (!v.IsObject()) {
    return fail(bad(where, "'long_context' must be an object."));
  }
  if (auto r = only_fields(
          where + " long_context", v,
          {"above_input_tokens", "input_usd_per_mtok", "output_usd_per_mtok",
           "cached_input_usd_per_mtok", "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok"});
      !r) {
    return fail(r.error());
  }
  for (const char* name : {"above_input_tokens", "input_usd_per_mtok", "output_usd_per_mtok"}) {
    if (!v.HasMember(name)) {
      return fail(bad(where, std::string("'long_context' needs '") + name + "'."));
    }
  }
  auto above = non_negative_int(where, v, "above_input_tokens");
  if (!above) {
    return fail(above.error());
  }
  if (*above == 0) {
    return fail(bad(where, "'long_context.above_input_tokens' must be positive."));
  }
  LongContextPrices tier;
  tier.above_input_tokens = *above;
  if (auto r = parse_prices(where, v, tier.prices); !r) {
    return fail(r.error());
  }
  return tier;
}

// The id of a model entry, which every entry must have, once its fields are known ones.
Result<std::string> model_id(const std::string& where, const rapidjson::Value& v) {
  if (!v.IsObject()) {
    return fail(bad(where, "a model must be an object."));
  }
  if (auto r =
          only_fields(where, v,
                      {"id", "kind", "aliases", "context_window", "max_output_tokens",
                       "input_usd_per_mtok", "output_usd_per_mtok", "cached_input_usd_per_mtok",
                       "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok", "long_context"});
      !r) {
    return fail(r.error());
  }
  auto id = req_string(where, v, "id");
  if (!id) {
    return fail(id.error());
  }
  if (id->empty()) {
    return fail(bad(where, "model 'id' must not be empty."));
  }
  return id;
}

// Fills `m` from `v` (model_id checked its fields): fields absent keep what `m` holds (a new
// model's defaults, or the built-in entry the configuration updates: repricing a model must not
// zero its limits or drop the aliases its dated snapshots are priced by). A long_context given
// replaces the tier whole.
Result<void> parse_model(const std::string& where, const rapidjson::Value& v, ModelInfo& m) {
  const std::string at = where + " (" + m.id + ")";
  if (auto it = v.FindMember("kind"); it != v.MemberEnd()) {
    const std::string_view kind =
        it->value.IsString() ? std::string_view(it->value.GetString(), it->value.GetStringLength())
                             : std::string_view();
    if (kind != "chat" && kind != "embedding") {
      return fail(bad(at, "a model's 'kind' must be \"chat\" or \"embedding\"."));
    }
    m.kind = kind == "embedding" ? ModelKind::embedding : ModelKind::chat;
  }
  if (auto r = opt_strings(at, v, "aliases", m.aliases); !r) {
    return r;
  }
  for (auto [name, field] : {std::pair{"context_window", &m.context_window},
                             std::pair{"max_output_tokens", &m.max_output_tokens}}) {
    if (v.HasMember(name)) {
      auto value = non_negative_int(at, v, name);
      if (!value) {
        return fail(value.error());
      }
      *field = *value;
    }
  }
  if (auto r = parse_prices(at, v, m.prices); !r) {
    return r;
  }
  if (auto it = v.FindMember("long_context"); it != v.MemberEnd()) {
    auto tier = parse_long_context(at, it->value);
    if (!tier) {
      return fail(tier.error());
    }
    m.long_context = std::move(*tier);
  }
  return {};
}

// Parses the array `list` into `models`. With `replace`, an entry whose id is already there
// updates it (the configuration repricing a built-in model); otherwise an id may appear once.
// Names stay unique across ids and aliases: a price must not depend on the catalog's order.
Result<void> add_models(const std::string& where, const rapidjson::Value& list,
                        std::vector<ModelInfo>& models, bool replace) {
  if (!list.IsArray()) {
    return fail(bad(where, "'models' must be an array."));
  }
  std::unordered_set<std::string> listed;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const std::string at = where + ".models[" + std::to_string(i) + "]";
    auto id = model_id(at, list[i]);
    if (!id) {
      return fail(id.error());
    }
    if (!listed.insert(*id).second) {
      return fail(bad(where, "model '" + *id + "' is listed twice."));
    }
    auto same = std::find_if(models.begin(), models.end(),
                             [&](const ModelInfo& known) { return known.id == *id; });
    ModelInfo m;
    if (replace && same != models.end()) {
      m = *same;  // updated: what the entry does not say stays as built in
    } else {
      m.id = *id;
    }
    if (auto r = parse_model(at, list[i], m); !r) {
      return r;
    }
    if (replace && same != models.end()) {
      *same = std::move(m);
    } else {
      models.push_back(std::move(m));
    }
  }
  // Ids are unique by now (checked above, or replaced in place): aliases must not repeat them.
  std::unordered_set<std::string_view> seen;
  for (const auto& m : models) {
    seen.insert(m.id);
  }
  for (const auto& m : models) {
    for (const auto& alias : m.aliases) {
      if (!seen.insert(alias).second) {
        return fail(bad(where, "model name '" + alias + "' is listed twice."));
      }
    }
  }
  return {};
}

Result<void> parse_search_price(const std::string& where, const rapidjson::Value& v, Provider& p) {
  if (!v.HasMember("web_search_usd_per_request")) {
    return {};
  }
  auto search = price(where, v, "web_search_usd_per_request");
  if (!search) {
    return fail(search.error());
  }
  p.web_search_usd_per_request = *search;
  return {};
}

// Fills `p` from `v`; fields absent keep the values `p` already holds (its defaults). `p.id` is
// set by the caller. base_url and kind are required.
Result<void> parse_provider(const std::string& where, const rapidjson::Value& v, Provider& p) {
  if (auto r =
          only_fields(where, v,
                      {"id", "display_name", "kind", "base_url", "auth", "requires_key", "env_var",
                       "key_prefixes", "key_hint", "key_url", "docs_url", "capabilities",
                       "model_prefixes", "models", "param_renames", "dropped_params",
                       "reasoning_model_prefixes", "web_search_usd_per_request"});
      !r) {
    return r;
  }
  auto kind_text = req_string(where, v, "kind");
  if (!kind_text) {
    return fail(kind_text.error());
  }
  auto kind = kind_from_string(*kind_text);
  if (!kind) {
    return fail(bad(where, "unknown kind '" + *kind_text +
                               "' (expected \"openai\", \"anthropic\" or \"gemini\")."));
  }
  p.kind = *kind;
  auto base = req_string(where, v, "base_url");
  if (!base) {
    return fail(base.error());
  }
  auto url = check_base_url(where, *base);
  if (!url) {
    return fail(url.error());
  }
  p.base_url = std::move(*url);

  for (auto r :
       {opt_string(where, v, "display_name", p.display_name),
        opt_bool(where, v, "requires_key", p.requires_key),
        opt_string(where, v, "env_var", p.env_var),
        opt_strings(where, v, "key_prefixes", p.key_prefixes),
        opt_string(where, v, "key_hint", p.key_hint), opt_string(where, v, "key_url", p.key_url),
        opt_string(where, v, "docs_url", p.docs_url),
        opt_strings(where, v, "capabilities", p.capabilities),
        opt_strings(where, v, "model_prefixes", p.model_prefixes),
        opt_strings(where, v, "dropped_params", p.dropped_params),
        opt_strings(where, v, "reasoning_model_prefixes", p.reasoning_model_prefixes)}) {
    if (!r) {
      return r;
    }
  }
  if (auto r = parse_search_price(where, v, p); !r) {
    return r;
  }
  for (const std::string* link : {&p.key_url, &p.docs_url}) {
    if (!link->empty()) {
      if (auto r = check_base_url(where, *link); !r) {
        return fail(bad(where, "'" + *link + "' is not a valid http(s) link."));
      }
    }
  }

  if (auto it = v.FindMember("auth"); it != v.MemberEnd()) {
    if (!it->value.IsObject()) {
      return fail(bad(where, "'auth' must be an object {\"header\", \"prefix\"}."));
    }
    if (auto r = only_fields(where, it->value, {"header", "prefix"}); !r) {
      return r;
    }
    if (auto r = opt_string(where, it->value, "header", p.auth.header); !r) {
      return r;
    }
    if (auto r = opt_string(where, it->value, "prefix", p.auth.prefix); !r) {
      return r;
    }
    if (p.auth.header.empty()) {
      return fail(bad(where, "'auth.header' must not be empty."));
    }
  }

  if (auto it = v.FindMember("param_renames"); it != v.MemberEnd()) {
    if (!it->value.IsObject()) {
      return fail(bad(where, "'param_renames' must be an object {\"from\": \"to\"}."));
    }
    p.param_renames.clear();
    for (const auto& m : it->value.GetObject()) {
      if (!m.value.IsString() || m.value.GetStringLength() == 0 || m.name.GetStringLength() == 0) {
        return fail(bad(where, "'param_renames' must map names to non-empty names."));
      }
      p.param_renames.emplace_back(std::string(as_view(m.name)), std::string(as_view(m.value)));
    }
  }

  if (auto it = v.FindMember("models"); it != v.MemberEnd()) {
    p.models.clear();
    if (auto r = add_models(where, it->value, p.models, /*replace=*/false); !r) {
      return r;
    }
  }
  if (p.display_name.empty()) {
    p.display_name = p.id;
  }
  return {};
}

void attach_adapters(std::vector<Provider>& providers) {
  for (auto& p : providers) {
    p.adapter = std::shared_ptr<const Adapter>(make_adapter(p));
  }
}

}  // namespace

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::openai:
      return "openai";
    case Kind::anthropic:
      return "anthropic";
    case Kind::gemini:
      return "gemini";
  }
  return "openai";  // unreachable: the switch covers every Kind
}

std::optional<Kind> kind_from_string(std::string_view text) {
  for (Kind k : {Kind::openai, Kind::anthropic, Kind::gemini}) {
    if (to_string(k) == text) {
      return k;
    }
  }
  return std::nullopt;
}

bool starts_with_any(std::string_view model, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& prefix) { return model.starts_with(prefix); });
}

namespace {

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `model` without a trailing snapshot suffix: "-20250929" (Claude), "-2024-07-18" (OpenAI),
// "-001" (Gemini). Empty when it has none.
std::string_view without_snapshot(std::string_view model) {
  const auto dash = model.rfind('-');
  if (dash == std::string_view::npos) {
    return {};
  }
  const std::string_view tail = model.substr(dash + 1);
  if (all_digits(tail) && (tail.size() == 8 || tail.size() == 3)) {
    return model.substr(0, dash);
  }
  // YYYY-MM-DD: the last dash ends "-DD"; the date starts 11 characters before the end.
  if (model.size() > 11 && tail.size() == 2 && all_digits(tail)) {
    const std::string_view date = model.substr(model.size() - 10);
    if (model[model.size() - 11] == '-' && all_digits(date.substr(0, 4)) && date[4] == '-' &&
        all_digits(date.substr(5, 2)) && date[7] == '-') {
      return model.substr(0, model.size() - 11);
    }
  }
  return {};
}

const ModelInfo* named(const std::vector<ModelInfo>& models, std::string_view name) {
  for (const auto& m : models) {
    if (m.id == name || std::find(m.aliases.begin(), m.aliases.end(), name) != m.aliases.end()) {
      return &m;
    }
  }
  return nullptr;
}

}  // namespace

const ModelInfo* Provider::priced_model(std::string_view model) const {
  if (const ModelInfo* m = named(models, model)) {
    return m;
  }
  const std::string_view base = without_snapshot(model);
  return base.empty() ? nullptr : named(models, base);
}

bool Provider::is_reasoning_model(std::string_view model) const {
  return starts_with_any(model, reasoning_model_prefixes);
}

const ModelInfo* Provider::find_model(std::string_view model) const {
  for (const auto& m : models) {
    if (m.id == model) {
      return &m;
    }
  }
  return nullptr;
}

Result<Catalog> Catalog::builtin() {
  auto catalog = from_json(builtin_catalog_json());
  if (!catalog) {
    return fail(
        Error::internal("The built-in provider catalog is broken: " + catalog.error().message));
  }
  return catalog;
}

Result<Catalog> Catalog::from_json(std::string_view json) {
  auto doc = parse_json_object(json, /*relaxed=*/true);
  if (!doc) {
    return fail(bad("catalog", doc.error().message));
  }
  auto list = doc->FindMember("providers");
  if (list == doc->MemberEnd() || !list->value.IsArray()) {
    return fail(bad("catalog", "'providers' must be an array."));
  }
  Catalog catalog;
  std::unordered_set<std::string> ids;
  for (rapidjson::SizeType i = 0; i < list->value.Size(); ++i) {
    std::string where = "catalog: providers[" + std::to_string(i) + "]";
    const auto& v = list->value[i];
    if (!v.IsObject()) {
      return fail(bad(where, "a provider must be an object."));
    }
    auto id = req_string(where, v, "id");
    if (!id) {
      return fail(id.error());
    }
    if (!valid_id(*id)) {
      return fail(
          bad(where, "id '" + *id + "' must be lowercase letters, digits, '-', '_' or '.'."));
    }
    if (!ids.insert(*id).second) {
      return fail(bad(where, "id '" + *id + "' is used twice."));
    }
    Provider p;
    p.id = std::move(*id);
    if (auto r = parse_provider(where + " (" + p.id + ")", v, p); !r) {
      return fail(r.error());
    }
    catalog.providers_.push_back(std::move(p));
  }
  attach_adapters(catalog.providers_);
  return catalog;
}

Result<void> Catalog::apply_config(const rapidjson::Value& providers_config) {
  if (providers_config.IsNull()) {
    return {};  // "providers": null, same as leaving it out
  }
  if (!providers_config.IsObject()) {
    return fail(bad("config", "'providers' must be an object keyed by provider id."));
  }
  // Work on a copy so a bad entry leaves the catalog as it was.
  std::vector<Provider> next = providers_;
  for (const auto& m : providers_config.GetObject()) {
    std::string id(as_view(m.name));
    std::string where = "config: providers." + id;
    if (!m.value.IsObject()) {
      return fail(bad(where, "must be an object."));
    }
    Provider* existing = nullptr;
    for (auto& p : next) {
      if (p.id == id) {
        existing = &p;
      }
    }
    if (existing) {
      // A built-in provider: where it lives, whether it needs a key, and the models and prices
      // the operator's account has (a new model, a negotiated rate) can change.
      if (auto r = only_fields(
              where, m.value,
              {"base_url", "requires_key", "kind", "models", "web_search_usd_per_request"});
          !r) {
        return r;
      }
      if (auto it = m.value.FindMember("models"); it != m.value.MemberEnd()) {
        if (auto r = add_models(where, it->value, existing->models, /*replace=*/true); !r) {
          return r;
        }
      }
      if (auto r = parse_search_price(where, m.value, *existing); !r) {
        return r;
      }
      std::string kind(to_string(existing->kind));
      if (auto r = opt_string(where, m.value, "kind", kind); !r) {
        return r;
      }
      if (kind != to_string(existing->kind)) {
        return fail(
            bad(where, "is a built-in provider of kind '" + std::string(to_string(existing->kind)) +
                           "'; its kind cannot change. Pick a new name to add a provider."));
      }
      if (auto it = m.value.FindMember("base_url"); it != m.value.MemberEnd()) {
        if (!it->value.IsString()) {
          return fail(bad(where, "'base_url' must be a string."));
        }
        auto url = check_base_url(where, as_view(it->value));
        if (!url) {
          return fail(url.error());
        }
        existing->base_url = std::move(*url);
      }
      if (auto r = opt_bool(where, m.value, "requires_key", existing->requires_key); !r) {
        return r;
      }
      continue;
    }
    if (!valid_id(id)) {
      return fail(bad(where, "a provider id must be lowercase letters, digits, '-', '_' or '.'."));
    }
    if (!m.value.HasMember("kind")) {
      return fail(bad(where,
                      "is not a built-in provider; to add it, give its \"kind\" "
                      "(\"openai\", \"anthropic\" or \"gemini\") and \"base_url\"."));
    }
    Provider p;
    p.id = id;
    p.capabilities = {"chat", "stream"};
    if (auto r = parse_provider(where, m.value, p); !r) {
      return r;
    }
    next.push_back(std::move(p));
  }
  // Adapters may have copied provider data (base URL, renames): rebuild them all.
  attach_adapters(next);
  providers_ = std::move(next);
  return {};
}

const Provider* Catalog::find(std::string_view id) const {
  for (const auto& p : providers_) {
    if (p.id == id) {
      return &p;
    }
  }
  return nullptr;
}

const Provider* Catalog::provider_for_model(std::string_view model) const {
  if (model.empty()) {
    return nullptr;
  }
  for (const auto& p : providers_) {
    if (p.find_model(model)) {
      return &p;
    }
  }
  const Provider* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& p : providers_) {
    for (const auto& prefix : p.model_prefixes) {
      if (prefix.size() > best_len && model.starts_with(prefix)) {
        best = &p;
        best_len = prefix.size();
      }
    }
  }
  return best;
}

}  // namespace keygate::providers
