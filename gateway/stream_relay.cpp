#include "gateway/stream_relay.hpp"

namespace keygate::gateway {

Result<void> StreamRelay::take(std::string_view piece) {
  events_.clear();
  if (auto ok = parser_.feed(piece, events_); !ok) {
    return ok;
  }
  for (auto& event : events_) {
    if (auto ok = translator_->on_event(std::move(event), chunks_); !ok) {
      return ok;
    }
  }
  return {};
}

Result<void> StreamRelay::end() {
  return translator_->on_end(chunks_);
}

const std::string& StreamRelay::take_frames() {
  frames_.clear();
  for (const auto& chunk : chunks_) {
    frames_ += "data: ";
    frames_ += chunk;
    frames_ += "\n\n";
  }
  chunks_.clear();
  return frames_;
}

}  // namespace keygate::gateway
