#pragma once
// The synchronous half of relaying an upstream stream: the upstream's bytes are parsed into SSE
// events, translated to OpenAI chunks and framed for the client. It holds everything a stream
// keeps between two upstream reads, so the coroutine that awaits those reads (alive for the
// stream's whole length, in every open stream) needs little more than a reference to it.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "providers/adapter.hpp"
#include "providers/sse.hpp"

namespace keygate::gateway {

class StreamRelay {
 public:
  explicit StreamRelay(std::unique_ptr<providers::StreamTranslator> translator)
      : translator_(std::move(translator)) {}

  // Parses and translates one piece of the upstream body. An error: the upstream's stream is
  // broken or reported an error; what was translated before it is still ready to go out.
  Result<void> take(std::string_view piece);
  // The upstream closed its stream; an error if it ended before its terminal event.
  Result<void> end();

  bool has_output() const { return !chunks_.empty(); }
  // The ready chunks as SSE frames, for one write; valid until the next call.
  const std::string& take_frames();
  // Frees the frame buffer (written already) while the stream waits.
  void release_output() { std::string().swap(frames_); }
  const providers::Usage& usage() const { return translator_->usage(); }

 private:
  std::unique_ptr<providers::StreamTranslator> translator_;
  providers::SseParser parser_;
  std::vector<providers::SseEvent> events_;
  std::vector<std::string> chunks_;
  std::string frames_;
};

}  // namespace keygate::gateway
