#pragma once
// The synchronous half of relaying an upstream stream: the upstream's bytes are parsed into SSE
// events, translated to OpenAI chunks and framed for the client. It holds everything a stream
// keeps between two upstream reads, so the coroutine that awaits those reads (alive for the
// stream's whole length, in every open stream) needs little more than a reference to it.
//
// An OpenAI-format upstream (the translator relays_verbatim()) takes a shorter way for plain
// events ("data: <payload>" and a blank line): their bytes go to the client as they came, a whole
// run of them in one copy, each only looked at by the translator (pass_verbatim). Anything else
// (comments, other fields, CRLF line ends, an event split across reads) goes through the parser,
// which hands back once it is between events again.

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
      : translator_(std::move(translator)), verbatim_(translator_->relays_verbatim()) {}

  // Parses and translates one piece of the upstream body. An error: the upstream's stream is
  // broken or reported an error; what was translated before it is still ready to go out.
  Result<void> take(std::string_view piece);
  // The upstream closed its stream; an error if it ended before its terminal event.
  Result<void> end();

  bool has_output() const { return !out_.empty(); }
  // The ready output as SSE frames, for one write; valid until the next call.
  const std::string& take_frames();
  // Frees the output buffers (written already) while the stream waits.
  void release_output() {
    std::string().swap(frames_);
    std::string().swap(out_);
  }
  const providers::Usage& usage() const { return translator_->usage(); }
  // Upstream events taken so far: about one token each in the providers' delta streams, what a
  // budget counts for an answer whose usage never came (gateway/usage_recording.cpp).
  int64_t events() const { return events_taken_; }

 private:
  // Copies the plain events at the start of `piece` to the output; returns what is left.
  Result<std::string_view> take_verbatim(std::string_view piece);
  // Frames what the translator produced into the output.
  void frame_chunks();

  std::unique_ptr<providers::StreamTranslator> translator_;
  const bool verbatim_;
  providers::SseParser parser_;
  std::vector<providers::SseEvent> events_;
  std::vector<std::string> chunks_;
  std::string out_;     // framed output not yet taken
  std::string frames_;  // the output last taken, being written
  int64_t events_taken_ = 0;
};

}  // namespace keygate::gateway
