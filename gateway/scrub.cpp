#include "gateway/scrub.hpp"

#include <algorithm>
#include <cctype>

namespace keygate::gateway {
namespace {

constexpr std::string_view kRedacted = "[redacted]";
constexpr std::size_t kMinInnerRun = 8;  // a piece of the middle of a key
constexpr std::size_t kMinEdgeRun = 4;   // the head or tail a mask would show

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
         c == '*';
}

// A word shaped like a masked key: a mask ("*" or "...") with key characters after it.
bool looks_masked(std::string_view word) {
  auto star = word.rfind('*');
  auto dots = word.rfind("...");
  std::size_t mask_end = std::string_view::npos;
  if (star != std::string_view::npos) {
    mask_end = star + 1;
  }
  if (dots != std::string_view::npos) {
    mask_end = mask_end == std::string_view::npos ? dots + 3 : std::max(mask_end, dots + 3);
  }
  if (mask_end == std::string_view::npos) {
    return false;
  }
  std::string_view after = word.substr(mask_end);
  return std::any_of(after.begin(), after.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// Masked echoes first, word by word, so that "sk-abc***wxyz" becomes one "[redacted]".
std::string scrub_masked_words(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_key_char(text[i])) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && is_key_char(text[end])) {
      ++end;
    }
    std::string_view word = text.substr(i, end - i);
    // A sentence's full stop is not part of the key.
    std::size_t trailing = 0;
    while (trailing < word.size() && word[word.size() - 1 - trailing] == '.') {
      ++trailing;
    }
    std::string_view core = word.substr(0, word.size() - trailing);
    if (looks_masked(core)) {
      out += kRedacted;
      out += word.substr(core.size());
    } else {
      out += word;
    }
    i = end;
  }
  return out;
}

// Length of the longest run at text[i...] that is a piece of the secret by the rules above.
std::size_t secret_run_at(std::string_view text, std::size_t i, std::string_view secret) {
  std::string_view rest = text.substr(i);
  std::size_t best = 0;
  // Any inner piece of 8+ characters; 4+ where the piece is the head (j == 0) or runs to the
  // end of the secret (its tail).
  for (std::size_t j = 0; j < secret.size(); ++j) {
    std::size_t n = 0;
    while (n < rest.size() && j + n < secret.size() && rest[n] == secret[j + n]) {
      ++n;
    }
    if (n >= kMinInnerRun || (n >= kMinEdgeRun && (j == 0 || j + n == secret.size()))) {
      best = std::max(best, n);
    }
  }
  return best;
}

}  // namespace

std::string scrub_secret(std::string_view text, std::string_view secret) {
  std::string masked = scrub_masked_words(text);
  if (secret.empty()) {
    return masked;
  }
  if (secret.size() < kMinEdgeRun) {
    // Too short to cut in pieces: only the whole value.
    std::string out;
    std::size_t i = 0;
    while (i < masked.size()) {
      if (std::string_view(masked).substr(i).starts_with(secret)) {
        out += kRedacted;
        i += secret.size();
      } else {
        out += masked[i++];
      }
    }
    return out;
  }
  std::string out;
  out.reserve(masked.size());
  std::string_view view(masked);
  std::size_t i = 0;
  while (i < view.size()) {
    std::size_t run = secret_run_at(view, i, secret);
    if (run > 0) {
      out += kRedacted;
      i += run;
    } else {
      out += view[i++];
    }
  }
  return out;
}

}  // namespace keygate::gateway
