#include "providers/embeddings.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include <bit>
#include <cstring>
#include <limits>

#include "providers/wire.hpp"
#include "schema/json.hpp"

namespace keygate::providers {

Result<UpstreamRequest> openai_embeddings_request(const rapidjson::Document& request,
                                                  std::string_view model) {
  if (!request.IsObject()) {
    return fail(Error::invalid_request("The request body must be a JSON object."));
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  bool wrote_model = false;
  for (const auto& m : request.GetObject()) {
    if (as_view(m.name) == "model") {
      if (!wrote_model) {
        w.Key("model");
        w.String(model.data(), static_cast<rapidjson::SizeType>(model.size()));
        wrote_model = true;
      }
      continue;  // a second "model" member would name another
    }
    w.Key(m.name.GetString(), m.name.GetStringLength());
    m.value.Accept(w);
  }
  if (!wrote_model) {
    w.Key("model");
    w.String(model.data(), static_cast<rapidjson::SizeType>(model.size()));
  }
  w.EndObject();
  UpstreamRequest up;
  up.path = "/embeddings";
  up.body.assign(buffer.GetString(), buffer.GetSize());
  return up;
}

namespace {

// Keeps only where the reader is: the depth, whether it is in the top-level "usage" object, and
// which of usage's counts the last key named. The vectors' numbers are read and dropped.
class EmbeddingsHandler
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, EmbeddingsHandler> {
 public:
  explicit EmbeddingsHandler(EmbeddingsScan& out) : out_(out) {}

  bool StartObject() {
    if (depth_ == 0) {
      top_is_object_ = true;
    } else if (depth_ == 1 && key_ == Slot::usage) {
      in_usage_ = true;
    }
    ++depth_;
    key_ = Slot::other;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    if (depth_ == 1) {
      in_usage_ = false;
    }
    return true;
  }
  bool StartArray() {
    if (depth_ == 1 && key_ == Slot::data && top_is_object_) {
      out_.is_list = true;
      in_data_ = true;
    } else if (depth_ == 3 && in_data_ && key_ == Slot::embedding) {
      out_.number_vectors = true;
    }
    ++depth_;
    key_ = Slot::other;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    if (depth_ == 1) {
      in_data_ = false;
    }
    return true;
  }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view k(text, length);
    key_ = Slot::other;
    if (depth_ == 1) {
      key_ = k == "data" ? Slot::data : k == "usage" ? Slot::usage : Slot::other;
    } else if (depth_ == 2 && in_usage_) {
      key_ = k == "prompt_tokens" ? Slot::prompt : k == "total_tokens" ? Slot::total : Slot::other;
    } else if (depth_ == 3 && in_data_ && k == "embedding") {
      key_ = Slot::embedding;
    }
    return true;
  }
  bool Default() { return count(-1); }
  bool Int(int v) { return count(v); }
  bool Uint(unsigned v) { return count(v); }
  bool Int64(int64_t v) { return count(v); }
  bool Uint64(uint64_t v) {
    return count(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                     ? static_cast<int64_t>(v)
                     : -1);
  }

 private:
  enum class Slot : unsigned char { other, data, usage, prompt, total, embedding };
  bool count(int64_t v) {
    if (depth_ == 2 && in_usage_ && v >= 0) {
      if (key_ == Slot::prompt) {
        out_.prompt_tokens = v;
      } else if (key_ == Slot::total) {
        out_.total_tokens = v;
      }
    }
    key_ = Slot::other;
    return true;
  }

  EmbeddingsScan& out_;
  int depth_ = 0;
  bool top_is_object_ = false;
  bool in_usage_ = false;
  bool in_data_ = false;
  Slot key_ = Slot::other;
};

}  // namespace

EmbeddingsScan scan_embeddings_answer(const std::string& body) {
  EmbeddingsScan scan;
  EmbeddingsHandler handler(scan);
  scan.parsed = !scan_json(body, handler).IsError();
  if (!scan.parsed) {
    scan.is_list = false;
  }
  return scan;
}

Result<std::string> vectors_as_base64(const std::string& body, std::string_view provider) {
  rapidjson::Document doc;
  parse_bounded(doc, body);
  auto data = !doc.HasParseError() && doc.IsObject() ? doc.FindMember("data") : doc.MemberEnd();
  if (data == doc.MemberEnd() || !data->value.IsArray()) {
    return fail(wire::bad_upstream(provider, "the embeddings answer holds no 'data' array"));
  }
  std::vector<float> floats;
  std::string encoded;
  for (auto& item : data->value.GetArray()) {
    if (!item.IsObject()) {
      continue;
    }
    auto embedding = item.FindMember("embedding");
    if (embedding == item.MemberEnd() || !embedding->value.IsArray()) {
      continue;  // already a string, or not a vector: as it came
    }
    floats.clear();
    for (const auto& v : embedding->value.GetArray()) {
      if (!v.IsNumber()) {
        return fail(
            Error::upstream_status(502, "An embedding holds a value that is not a number."));
      }
      floats.push_back(static_cast<float>(v.GetDouble()));
    }
    encoded.clear();
    append_base64_floats(encoded, floats);
    embedding->value.SetString(encoded.data(), static_cast<rapidjson::SizeType>(encoded.size()),
                               doc.GetAllocator());
  }
  return to_json(doc);
}

bool wants_base64(const rapidjson::Value& request) {
  auto it = request.FindMember("encoding_format");
  return it != request.MemberEnd() && it->value.IsString() && as_view(it->value) == "base64";
}

std::vector<std::string_view> input_texts(const rapidjson::Value& request) {
  std::vector<std::string_view> texts;
  auto input = request.FindMember("input");
  if (input == request.MemberEnd()) {
    return texts;
  }
  if (input->value.IsString()) {
    texts.push_back(as_view(input->value));
    return texts;
  }
  if (!input->value.IsArray()) {
    return texts;
  }
  for (const auto& item : input->value.GetArray()) {
    if (!item.IsString()) {
      return {};
    }
    texts.push_back(as_view(item));
  }
  return texts;
}

int64_t estimate_tokens(std::string_view text) {
  return std::max<int64_t>(1, static_cast<int64_t>((text.size() + 3) / 4));
}

void append_base64_floats(std::string& out, const std::vector<float>& values) {
  static_assert(std::endian::native == std::endian::little,
                "OpenAI's base64 vectors are little-endian float32s");
  static_assert(sizeof(float) == 4);
  const std::size_t bytes = values.size() * sizeof(float);
  const std::size_t encoded =
      sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_ORIGINAL);  // with its NUL
  const std::size_t at = out.size();
  out.resize(at + encoded);
  sodium_bin2base64(out.data() + at, encoded, reinterpret_cast<const unsigned char*>(values.data()),
                    bytes, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the NUL
}

}  // namespace keygate::providers
