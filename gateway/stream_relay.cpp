#include "gateway/stream_relay.hpp"

#include <cstring>

namespace keygate::gateway {

namespace {

// The payload of a plain event at the start of `s` ("data:" or "data: ", then a payload without
// CR or LF, then LF LF), and the event's length; length 0 when `s` does not start with one (or
// it is not complete yet).
struct PlainEvent {
  std::string_view payload;
  std::size_t length = 0;
};

PlainEvent plain_event(std::string_view s) {
  constexpr std::string_view kData = "data:";
  if (!s.starts_with(kData)) {
    return {};
  }
  const char* lf = static_cast<const char*>(std::memchr(s.data(), '\n', s.size()));
  if (lf == nullptr) {
    return {};
  }
  const std::size_t line_end = static_cast<std::size_t>(lf - s.data());
  if (line_end + 1 >= s.size() || s[line_end + 1] != '\n') {
    return {};  // a second line (another field), or the blank line has not arrived
  }
  std::string_view payload = s.substr(kData.size(), line_end - kData.size());
  if (payload.starts_with(' ')) {
    payload.remove_prefix(1);
  }
  // A CR ends a line too (CRLF or CR line ends): the parser's case.
  if (std::memchr(payload.data(), '\r', payload.size()) != nullptr) {
    return {};
  }
  return {payload, line_end + 2};
}

}  // namespace

Result<std::string_view> StreamRelay::take_verbatim(std::string_view piece) {
  std::size_t run_start = 0;  // the events [run_start, pos) pass, not copied yet
  std::size_t pos = 0;
  while (pos < piece.size()) {
    const PlainEvent event = plain_event(piece.substr(pos));
    if (event.length == 0) {
      break;
    }
    ++events_taken_;
    auto pass = translator_->pass_verbatim(event.payload);
    if (!pass || !*pass) {
      out_.append(piece.substr(run_start, pos - run_start));
      if (!pass) {
        return fail(std::move(pass).error());
      }
      run_start = pos + event.length;  // dropped
    }
    pos += event.length;
  }
  out_.append(piece.substr(run_start, pos - run_start));
  if (pos > 0) {
    parser_.start();
  }
  return piece.substr(pos);
}

Result<void> StreamRelay::take(std::string_view piece) {
  if (verbatim_ && parser_.at_event_boundary()) {
    auto rest = take_verbatim(piece);
    if (!rest) {
      return fail(std::move(rest).error());
    }
    piece = *rest;
    if (piece.empty()) {
      return {};
    }
  }
  // The rest (or all of a translating stream) goes through the parser. A verbatim stream takes
  // the short way again from the next piece on, once the parser is between events.
  events_.clear();
  if (auto ok = parser_.feed(piece, events_); !ok) {
    return ok;
  }
  events_taken_ += static_cast<int64_t>(events_.size());
  for (auto& event : events_) {
    auto ok = translator_->on_event(std::move(event), chunks_);
    frame_chunks();
    if (!ok) {
      return ok;
    }
  }
  return {};
}

Result<void> StreamRelay::end() {
  auto ended = translator_->on_end(chunks_);
  frame_chunks();
  return ended;
}

void StreamRelay::frame_chunks() {
  for (const auto& chunk : chunks_) {
    out_ += "data: ";
    out_ += chunk;
    out_ += "\n\n";
  }
  chunks_.clear();
}

const std::string& StreamRelay::take_frames() {
  frames_.clear();
  frames_.swap(out_);
  return frames_;
}

}  // namespace keygate::gateway
