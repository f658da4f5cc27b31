#pragma once
// Removes echoes of a provider key from text that came back from an upstream (error messages)
// before it reaches a client or a log line. Providers do echo keys: OpenAI answers a bad key with
// "Incorrect API key provided: sk-abc***...wxyz", and some proxies repeat the whole header.

#include <string>
#include <string_view>

namespace keygate::gateway {

// `text` with every trace of `secret` replaced by "[redacted]":
//  - masked key echoes: a word that carries a mask ("*" or "...") followed by more key characters,
//    e.g. "sk-abc***wxyz", "sk-...abcd", "sk-proj-****abcd";
//  - any run of 8 or more characters that appears anywhere in the secret;
//  - any run of 4 or more characters that is the secret's head or tail (what masks reveal).
// Pure; over-redaction of an error message is acceptable, a leak is not.
std::string scrub_secret(std::string_view text, std::string_view secret);

}  // namespace keygate::gateway
