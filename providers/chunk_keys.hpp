#pragma once
// Which of the two keys that matter in an OpenAI stream chunk it holds with a value other than
// null: "error" (a provider reporting a failure mid-stream) and "usage" (the token counts). Most
// chunks are content deltas with neither, and are passed on without being parsed; this scan
// decides which chunks are parsed.
//
// It is cheap rather than exact: a quoted word inside a string value is escaped (\"usage\") and
// does not match, but a key nested anywhere counts. A false positive costs a parse, nothing else.

#include <string_view>

namespace keygate::providers {

struct ChunkKeys {
  bool error = false;
  bool usage = false;
};

ChunkKeys scan_chunk_keys(std::string_view data);

}  // namespace keygate::providers
