#pragma once
// Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html):
// an incremental parser for upstream streams and the framing we write to clients.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "schema/error.hpp"

namespace keygate::providers {

struct SseEvent {
  std::string event;  // value of the last "event:" field, empty for the default "message"
  std::string data;   // "data:" lines joined with '\n'
};

// Feed bytes as they arrive; complete events are appended to `out`. Handles LF, CRLF and CR line
// ends, comment lines (": ping"), fields without a space after the colon, and events split across
// any number of reads. An event larger than `max_event_bytes` is an error (bounded memory).
class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = 8 * 1024 * 1024)
      : max_event_bytes_(max_event_bytes) {}
  Result<void> feed(std::string_view bytes, std::vector<SseEvent>& out);
  // True when bytes of an unfinished event are buffered (a stream that ends here was cut short).
  bool has_partial_event() const;
  // True between events: nothing buffered, not even a CR whose LF may come next. Bytes from here
  // on may be read by someone else (StreamRelay's verbatim path), as long as they tell start().
  bool at_event_boundary() const { return !has_partial_event() && !last_was_cr_; }
  // The stream's first line went by elsewhere: a BOM is no longer dropped.
  void start() { first_line_ = false; }

 private:
  Result<void> take_line(std::string_view line, std::vector<SseEvent>& out);
  std::size_t max_event_bytes_;
  std::string line_;  // current incomplete line
  bool last_was_cr_ = false;
  bool first_line_ = true;  // a UTF-8 BOM may precede the first line only
  SseEvent current_;
  bool has_data_ = false;
};

// "data: <payload>\n\n" — payload must not contain newlines (JSON chunks never do).
std::string sse_data_frame(std::string_view payload);
// The terminal frame of an OpenAI stream.
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace keygate::providers
