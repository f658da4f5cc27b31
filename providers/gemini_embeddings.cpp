#include "providers/gemini_embeddings.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "providers/embeddings.hpp"
#include "providers/wire.hpp"
#include "schema/json.hpp"

namespace keygate::providers {
namespace {

constexpr std::string_view kProviderName = "Gemini";
// "at most 100 requests can be in one batch" (batchEmbedContents).
constexpr std::size_t kMaxBatch = 100;

Error bad_upstream(std::string message) {
  return wire::bad_upstream(kProviderName, std::move(message));
}

}  // namespace

Result<void> check_gemini_embeddings(const rapidjson::Document& request) {
  const std::size_t texts = input_texts(request).size();
  if (texts == 0) {
    return fail(Error::invalid_request(
        "Gemini embeds text: 'input' must be a string or an array of strings (token ids are "
        "for OpenAI's models).",
        "input", "invalid_input"));
  }
  // Google's limit on one batch; OpenAI takes 2048. Said before any key is used, rather than in
  // Google's words after a round trip.
  if (texts > kMaxBatch) {
    return fail(Error::invalid_request(
        "Gemini embeds at most " + std::to_string(kMaxBatch) + " texts a request; this one has " +
            std::to_string(texts) + ". Send them in batches of " + std::to_string(kMaxBatch) + ".",
        "input", "too_many_inputs"));
  }
  return {};
}

Result<std::string> gemini_embeddings_body(const rapidjson::Document& request,
                                           std::string_view model) {
  if (auto ok = check_gemini_embeddings(request); !ok) {
    return fail(std::move(ok.error()));
  }
  const std::vector<std::string_view> texts = input_texts(request);
  int64_t dimensions = 0;
  if (auto it = request.FindMember("dimensions");
      it != request.MemberEnd() && it->value.IsInt64()) {
    dimensions = it->value.GetInt64();
  }
  const std::string model_name = "models/" + std::string(model);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("requests");
  w.StartArray();
  for (const std::string_view text : texts) {
    w.StartObject();
    w.Key("model");
    w.String(model_name.data(), static_cast<rapidjson::SizeType>(model_name.size()));
    w.Key("content");
    w.StartObject();
    w.Key("parts");
    w.StartArray();
    w.StartObject();
    w.Key("text");
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    w.EndObject();
    w.EndArray();
    w.EndObject();
    if (dimensions > 0) {
      w.Key("outputDimensionality");
      w.Int64(dimensions);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {

// Writes OpenAI's data entries while the reader walks Google's answer, without building it: a
// batch is up to 100 vectors of 3,072 numbers. Numbers come as their text
// (kParseNumbersAsStringsFlag), so a vector of floats goes out digit for digit as Google wrote
// it; each is still read (from_chars) to prove it is a finite number, and for base64. Strings
// arrive through another callback, so a quoted "1" is refused, not taken for a number.
class GeminiVectorsWriter
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, GeminiVectorsWriter> {
 public:
  GeminiVectorsWriter(std::string& out, bool base64) : out_(out), base64_(base64) {}

  bool StartObject() {
    if (depth_ == 0) {
      top_is_object_ = true;
    } else if (depth_ == 2 && in_list_) {
      entry_has_values_ = false;
    } else if (in_values()) {
      return refuse("a value that is not a number");
    }
    return open();
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    if (depth_ == 2 && in_list_) {
      if (!entry_has_values_) {
        return refuse("an entry without a 'values' array");
      }
      ++entries_;
    }
    return true;
  }
  bool StartArray() {
    if (depth_ == 1 && top_is_object_ && key_ == Slot::embeddings) {
      in_list_ = true;
      saw_list_ = true;
    } else if (depth_ == 2 && in_list_) {
      return refuse("an entry that is not an object");
    } else if (depth_ == 3 && in_list_ && key_ == Slot::values) {
      if (entry_has_values_) {
        return refuse("two 'values' arrays");
      }
      start_vector();
    } else if (in_values()) {
      return refuse("a value that is not a number");
    }
    return open();
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    if (depth_ == 3 && in_list_ && vector_open_) {
      return end_vector();
    }
    if (depth_ == 1) {
      in_list_ = false;
    }
    return true;
  }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view k(text, length);
    key_ = Slot::other;
    if (depth_ == 1 && k == "embeddings") {
      key_ = Slot::embeddings;
    } else if (depth_ == 3 && in_list_ && k == "values") {
      key_ = Slot::values;
    }
    return true;
  }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
    if (!in_values()) {
      return scalar();
    }
    double number = 0;
    const auto [end, ec] = std::from_chars(text, text + length, number);
    if (ec == std::errc::result_out_of_range) {
      // Too small (1e-400) is a zero, or a subnormal; too large is no vector value.
      const std::string copy(text, length);
      number = std::strtod(copy.c_str(), nullptr);
    } else if (ec != std::errc() || end != text + length) {
      return refuse("a value that is not a number");
    }
    if (!std::isfinite(number) || (base64_ && !std::isfinite(static_cast<float>(number)))) {
      return refuse("a number out of range");
    }
    if (base64_) {
      floats_.push_back(static_cast<float>(number));
    } else {
      out_ += values_written_++ > 0 ? "," : "";
      out_.append(text, length);
    }
    return true;
  }
  // Strings, booleans and nulls: anything but a number inside a vector is refused.
  bool Default() { return in_values() ? refuse("a value that is not a number") : scalar(); }

  bool saw_list() const { return saw_list_; }
  std::size_t entries() const { return entries_; }
  const std::string& problem() const { return problem_; }

 private:
  enum class Slot : unsigned char { other, embeddings, values };

  bool in_values() const { return vector_open_ && depth_ == 4; }
  bool open() {
    ++depth_;
    key_ = Slot::other;
    return true;
  }
  bool scalar() {
    key_ = Slot::other;
    return true;
  }
  bool refuse(std::string what) {
    problem_ = "embeddings[" + std::to_string(entries_) + "] holds " + std::move(what);
    return false;
  }
  void start_vector() {
    out_ += entries_ > 0 ? "," : "";
    out_ += R"({"object":"embedding","index":)";
    append_integer(out_, static_cast<int64_t>(entries_));
    out_ += R"(,"embedding":)";
    out_ += base64_ ? "\"" : "[";
    floats_.clear();
    values_written_ = 0;
    vector_open_ = true;
  }
  bool end_vector() {
    if (floats_.empty() && values_written_ == 0) {
      return refuse("an empty 'values' array");
    }
    if (base64_) {
      append_base64_floats(out_, floats_);
      out_ += "\"}";
    } else {
      out_ += "]}";
    }
    vector_open_ = false;
    entry_has_values_ = true;
    return true;
  }

  std::string& out_;
  bool base64_;
  int depth_ = 0;
  bool top_is_object_ = false;
  bool in_list_ = false;
  bool saw_list_ = false;
  bool vector_open_ = false;
  bool entry_has_values_ = false;
  Slot key_ = Slot::other;
  std::size_t entries_ = 0;
  std::size_t values_written_ = 0;
  std::vector<float> floats_;
  std::string problem_;
};

}  // namespace

Result<std::string> gemini_embeddings_answer(const std::string& upstream_body,
                                             const rapidjson::Document& request,
                                             std::string_view model, Usage& usage) {
  const std::vector<std::string_view> texts = input_texts(request);
  std::string out;
  out.reserve(upstream_body.size() + 256);
  out += R"({"object":"list","data":[)";
  GeminiVectorsWriter writer(out, wants_base64(request));
  DepthLimited<GeminiVectorsWriter> limited(writer);
  rapidjson::Reader reader;
  rapidjson::StringStream in(upstream_body.c_str());
  const bool parsed = !nul_inside(upstream_body).IsError() &&
                      !reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(in, limited).IsError();
  if (!writer.problem().empty()) {
    return fail(bad_upstream(writer.problem()));
  }
  if (!parsed || !writer.saw_list()) {
    return fail(bad_upstream("the answer holds no 'embeddings' array"));
  }
  if (writer.entries() != texts.size()) {
    return fail(bad_upstream("the answer holds " + std::to_string(writer.entries()) +
                             " embeddings for " + std::to_string(texts.size()) + " inputs"));
  }
  int64_t tokens = 0;
  for (const std::string_view text : texts) {
    tokens += estimate_tokens(text);
  }
  out += R"(],"model":)";
  append_json_string(out, model);
  out += R"(,"usage":{"prompt_tokens":)";
  append_integer(out, tokens);
  out += R"(,"total_tokens":)";
  append_integer(out, tokens);
  out += "}}";

  usage = {};
  usage.prompt_tokens = tokens;
  usage.completion_tokens = 0;
  usage.estimated = true;
  return out;
}

}  // namespace keygate::providers
