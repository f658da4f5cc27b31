#pragma once
// What a sealed provider key is bound to: its row's id, owner and provider (sealer.hpp), and the
// associated data built from them, "keygate:v1|" + key_id + "|" + owner + "|" + provider + "|" +
// version. The cache's seal (cache_sealer.hpp) binds the same fields, with version 0.

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace keygate {

// A SealContext's three fields, borrowed: opening a cached key on the request path builds no
// strings. Valid while what it views is.
struct SealContextView {
  std::string_view key_id;
  std::string_view owner;
  std::string_view provider;
};

struct SealContext {
  std::string key_id;
  std::string owner;  // user id, or "system"
  std::string provider;
  operator SealContextView() const { return {key_id, owner, provider}; }
};

inline constexpr std::string_view kAdPrefix = "keygate:v1|";

// The associated data, written into a buffer on the caller's stack: a key is opened on every
// proxied request, and ids are short. Longer contexts (never seen: ids are generated) go to the
// heap instead of being cut.
class AssociatedData {
 public:
  AssociatedData(SealContextView context, int64_t master_key_version) {
    std::array<char, 24> version{};
    const char* version_end =
        std::to_chars(version.data(), version.data() + version.size(), master_key_version).ptr;
    const std::string_view parts[] = {
        kAdPrefix, context.key_id,   "|", context.owner,
        "|",       context.provider, "|", {version.data(), version_end}};
    std::size_t size = 0;
    for (auto part : parts) {
      size += part.size();
    }
    char* out = inline_.data();
    if (size > inline_.size()) {
      heap_.resize(size);
      out = heap_.data();
    }
    data_ = reinterpret_cast<const unsigned char*>(out);
    size_ = size;
    for (auto part : parts) {
      std::copy(part.begin(), part.end(), out);
      out += part.size();
    }
  }
  AssociatedData(const AssociatedData&) = delete;
  AssociatedData& operator=(const AssociatedData&) = delete;

  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

 private:
  std::array<char, 192> inline_;
  std::string heap_;
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace keygate
