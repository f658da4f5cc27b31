#include "providers/openai_answer_scan.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>

#include "schema/json.hpp"

namespace keygate::providers {

namespace {

// Receives the reader's events, keeping only where it is: the depth, whether it is inside the
// top-level usage object or one of usage's two details objects, and which counted member the
// last key named (its value is the next event).
class UsageHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, UsageHandler> {
 public:
  explicit UsageHandler(AnswerScan& out) : out_(out) {}

  bool StartObject() { return open(true); }
  bool StartArray() { return open(false); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    on_key(std::string_view(text, length));
    return true;
  }
  // Every other value: a number is counted by value(), anything else is "not reported".
  bool Default() { return value(-1); }
  bool Int(int v) { return value(v >= 0 ? v : -1); }
  bool Uint(unsigned v) { return value(v); }
  bool Int64(int64_t v) { return value(v >= 0 ? v : -1); }
  bool Uint64(uint64_t v) {
    return value(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                     ? static_cast<int64_t>(v)
                     : -1);
  }
  bool Double(double v) { return value(v >= 0 && v < 9e18 ? static_cast<int64_t>(v) : -1); }

 private:
  enum Slot : unsigned char {
    kNone,
    kUsage,
    kPromptDetails,
    kCompletionDetails,
    kPrompt,
    kCompletion,
    kCached,
    kCacheWrite,
    kReasoning,
    kSlots
  };

  Slot slot_of(std::string_view key) const {
    if (depth_ == 1) {
      if (key == "choices") {
        out_.has_choices = true;
      }
      return key == "usage" ? kUsage : kNone;
    }
    if (depth_ == 2 && in_usage_) {
      if (key == "prompt_tokens")
        return kPrompt;
      if (key == "completion_tokens")
        return kCompletion;
      if (key == "prompt_tokens_details")
        return kPromptDetails;
      if (key == "completion_tokens_details")
        return kCompletionDetails;
      return kNone;
    }
    if (depth_ == 3 && in_details_ == kPromptDetails) {
      // OpenRouter reports Claude's cache writes here.
      return key == "cached_tokens" ? kCached : key == "cache_write_tokens" ? kCacheWrite : kNone;
    }
    if (depth_ == 3 && in_details_ == kCompletionDetails && key == "reasoning_tokens") {
      return kReasoning;
    }
    return kNone;
  }

  void on_key(std::string_view key) {
    const Slot slot = slot_of(key);
    pending_ = kNone;
    if (slot != kNone && !seen_[slot]) {  // a repeated name: the first member counts
      seen_[slot] = true;
      pending_ = slot;
    }
  }

  bool value(int64_t v) {
    switch (std::exchange(pending_, kNone)) {
      case kPrompt:
        out_.usage.prompt_tokens = v;
        break;
      case kCompletion:
        out_.usage.completion_tokens = v;
        break;
      case kCached:
        out_.usage.cached_tokens = v;
        break;
      case kCacheWrite:
        out_.usage.cache_write_tokens = v;
        break;
      case kReasoning:
        out_.usage.reasoning_tokens = v;
        break;
      default:
        break;
    }
    return true;
  }

  bool open(bool object) {
    const Slot slot = std::exchange(pending_, kNone);  // an object or array is no count
    ++depth_;
    if (depth_ == 1) {
      out_.is_object = object;
    }
    if (object && slot == kUsage) {
      in_usage_ = true;
      out_.has_usage = true;
      out_.usage = Usage{};  // every count "not reported" until read
    } else if (object && (slot == kPromptDetails || slot == kCompletionDetails)) {
      in_details_ = slot;
    }
    return true;
  }

  bool close() {
    --depth_;
    if (depth_ == 1) {
      in_usage_ = false;
    } else if (depth_ == 2) {
      in_details_ = kNone;
    }
    return true;
  }

  AnswerScan& out_;
  int depth_ = 0;
  bool in_usage_ = false;
  Slot in_details_ = kNone;
  Slot pending_ = kNone;
  std::array<bool, kSlots> seen_{};
};

}  // namespace

AnswerScan scan_openai_answer(const std::string& body) {
  AnswerScan scan;
  UsageHandler handler(scan);
  scan.parsed = !scan_json(body, handler).IsError();
  return scan;
}

}  // namespace keygate::providers
