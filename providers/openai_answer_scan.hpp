#pragma once
// What keygate needs from an OpenAI chat.completion answer that it passes on verbatim: whether
// it is a JSON object with "choices", and its usage numbers. Read with RapidJSON's SAX events
// rather than a parsed document: nothing is built, and the answer's check costs about half
// (callgrind). The rules are read_usage()'s on a document: the first member of a name counts,
// and a count that is not a non-negative integer is -1 ("not reported").

#include <string>

#include "providers/adapter.hpp"

namespace keygate::providers {

struct AnswerScan {
  bool parsed = false;       // valid JSON, one value
  bool is_object = false;    // ... and an object
  bool has_choices = false;  // with a top-level "choices" member
  bool has_usage = false;    // and a top-level "usage" object: `usage` was read from it
  Usage usage;
};

AnswerScan scan_openai_answer(const std::string& body);

}  // namespace keygate::providers
