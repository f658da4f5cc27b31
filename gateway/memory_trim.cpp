#include "gateway/memory_trim.hpp"

#include <atomic>

namespace keygate::gateway {

namespace {
std::atomic<void (*)()> installed{nullptr};
}  // namespace

void set_memory_trim(void (*trim)()) {
  installed.store(trim, std::memory_order_release);
}

void trim_memory() {
  if (auto* trim = installed.load(std::memory_order_acquire)) {
    trim();
  }
}

}  // namespace keygate::gateway
