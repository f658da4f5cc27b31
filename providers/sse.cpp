#include "providers/sse.hpp"

#include <algorithm>
#include <cstring>

namespace keygate::providers {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Not retryable: the same upstream would send the same oversized event again.
Error event_too_large(std::size_t limit) {
  return Error{502,
               "upstream_error",
               "upstream_event_too_large",
               "The upstream sent a stream event larger than " + std::to_string(limit) + " bytes.",
               {},
               false};
}

// Position of the first CR or LF at or after `from`, or npos. Two memchr calls (SIMD in glibc)
// rather than a loop over characters: this runs over every byte of every stream. The CR search
// stops at the LF, so an LF-only stream scans each line twice at most.
std::size_t find_line_end(std::string_view s, std::size_t from) {
  const char* begin = s.data() + from;
  const std::size_t rest = s.size() - from;
  const char* lf = static_cast<const char*>(std::memchr(begin, '\n', rest));
  const std::size_t until_lf = lf != nullptr ? static_cast<std::size_t>(lf - begin) : rest;
  const char* cr = static_cast<const char*>(std::memchr(begin, '\r', until_lf));
  const char* end = cr != nullptr ? cr : lf;
  return end == nullptr ? std::string_view::npos : static_cast<std::size_t>(end - s.data());
}

}  // namespace

Result<void> SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  std::size_t pos = 0;
  // A CRLF split across two reads: the LF completes the line the CR already ended.
  if (last_was_cr_ && !bytes.empty()) {
    last_was_cr_ = false;
    if (bytes[0] == '\n') {
      pos = 1;
    }
  }
  while (pos < bytes.size()) {
    std::size_t end = find_line_end(bytes, pos);
    if (end == std::string_view::npos) {
      std::string_view rest = bytes.substr(pos);
      if (line_.size() + rest.size() + current_.data.size() > max_event_bytes_) {
        return fail(event_too_large(max_event_bytes_));
      }
      line_.append(rest);
      break;
    }
    std::string_view piece = bytes.substr(pos, end - pos);
    Result<void> r;
    if (line_.empty()) {
      r = take_line(piece, out);  // the common case: the whole line is in this read, no copy
    } else {
      line_.append(piece);
      std::string line = std::move(line_);
      line_.clear();
      r = take_line(line, out);
    }
    if (!r) {
      return r;
    }
    pos = end + 1;
    if (bytes[end] == '\r') {
      if (pos < bytes.size()) {
        if (bytes[pos] == '\n') {
          ++pos;
        }
      } else {
        last_was_cr_ = true;
      }
    }
  }
  return {};
}

bool SseParser::has_partial_event() const {
  return !line_.empty() || has_data_ || !current_.event.empty();
}

Result<void> SseParser::take_line(std::string_view line, std::vector<SseEvent>& out) {
  // https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream:
  // one UTF-8 BOM at the very start of the stream is dropped.
  if (first_line_) {
    first_line_ = false;
    if (line.starts_with(kBom)) {
      line.remove_prefix(kBom.size());
    }
  }
  if (line.empty()) {
    // Dispatch. An event without any data line is dropped, per the spec, with its event type.
    if (has_data_) {
      out.push_back(std::move(current_));
    }
    current_ = SseEvent{};
    has_data_ = false;
    return {};
  }
  if (line[0] == ':') {
    return {};  // comment, e.g. ": ping" keep-alives
  }
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') {
      value.remove_prefix(1);
    }
  }
  if (field == "data") {
    if (current_.data.size() + value.size() + 1 > max_event_bytes_) {
      return fail(event_too_large(max_event_bytes_));
    }
    // Lines are joined with '\n'; joining as we go equals the spec's "append LF, strip the last".
    if (has_data_) {
      current_.data.push_back('\n');
    }
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    if (value.size() > max_event_bytes_) {
      return fail(event_too_large(max_event_bytes_));
    }
    current_.event.assign(value);
  }
  // "id" and "retry" only matter to a reconnecting browser; we never reconnect mid-completion.
  // Unknown fields are ignored, as the spec says.
  return {};
}

std::string sse_data_frame(std::string_view payload) {
  std::string frame;
  if (payload.find_first_of("\r\n") == std::string_view::npos) {
    frame.reserve(payload.size() + 8);
    frame.append("data: ").append(payload).append("\n\n");
    return frame;
  }
  // Not expected (JSON chunks are single-line), but a raw newline would end the event early and
  // corrupt the stream; one "data:" line per line keeps it intact (the reader rejoins with '\n').
  std::size_t pos = 0;
  while (true) {
    std::size_t end = payload.find_first_of("\r\n", pos);
    frame.append("data: ").append(payload.substr(pos, end - pos)).push_back('\n');
    if (end == std::string_view::npos) {
      break;
    }
    pos = end + 1;
    if (payload[end] == '\r' && pos < payload.size() && payload[pos] == '\n') {
      ++pos;
    }
  }
  frame.push_back('\n');
  return frame;
}

}  // namespace keygate::providers
