#include "keystore/secret.hpp"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace keygate {

namespace {

void ensure_sodium() {
  // sodium_malloc aborts if libsodium is not initialised; a SecretKey may be built before
  // crypto_init() runs (static setup, tests), so make sure here. Thread-safe and idempotent.
  static const bool initialised = sodium_init() >= 0;
  (void)initialised;
}

// Small secrets (provider keys, tokens, subkeys, auth header values) come from one guarded,
// mlock'd sodium_malloc region cut into fixed slots. A sodium_malloc per secret costs several
// syscalls (mmap, mprotect, mlock, and munmap with a TLB flush on free) — per request, that was
// the largest single cost of the proxy path. Slots are wiped when they are given back; larger
// secrets, or any once the slots run out, still get their own sodium_malloc.
class SecretSlots {
 public:
  static constexpr std::size_t kSlotSize = 512;
  static constexpr std::size_t kSlots = 2048;  // 1 MiB locked

  static SecretSlots& instance() {
    static SecretSlots slots;
    return slots;
  }

  unsigned char* take(std::size_t size) {
    if (base_ == nullptr || size > kSlotSize) {
      return nullptr;
    }
    std::lock_guard lock(mutex_);
    if (free_.empty()) {
      return nullptr;
    }
    std::size_t index = free_.back();
    free_.pop_back();
    return base_ + index * kSlotSize;
  }

  // True when `p` is one of ours (then it is wiped and returned to the free list).
  bool give_back(unsigned char* p) {
    if (base_ == nullptr || p < base_ || p >= base_ + kSlotSize * kSlots) {
      return false;
    }
    sodium_memzero(p, kSlotSize);
    std::lock_guard lock(mutex_);
    free_.push_back(static_cast<std::size_t>(p - base_) / kSlotSize);
    return true;
  }

 private:
  SecretSlots() {
    ensure_sodium();
    base_ = static_cast<unsigned char*>(sodium_malloc(kSlotSize * kSlots));
    if (base_ == nullptr) {
      return;  // e.g. RLIMIT_MEMLOCK too low: every secret gets its own sodium_malloc
    }
    free_.reserve(kSlots);
    for (std::size_t i = kSlots; i > 0; --i) {
      free_.push_back(i - 1);
    }
  }
  // Never freed: secrets may be released during static destruction.

  unsigned char* base_ = nullptr;
  std::mutex mutex_;
  std::vector<std::size_t> free_;
};

unsigned char* allocate(size_t size) {
  if (size == 0) {
    return nullptr;
  }
  if (auto* slot = SecretSlots::instance().take(size)) {
    return slot;
  }
  ensure_sodium();
  auto* p = static_cast<unsigned char*>(sodium_malloc(size));
  if (p == nullptr) {
    // Out of (lockable) memory: there is no way to hold the secret safely, and continuing with a
    // half-built SecretKey would be worse than stopping.
    std::abort();
  }
  return p;
}

void deallocate(unsigned char* p) {
  if (!SecretSlots::instance().give_back(p)) {
    sodium_free(p);  // zeroes the whole allocation before unmapping it
  }
}

}  // namespace

SecretKey::SecretKey(std::string_view value)
    : data_(allocate(value.size())), size_(value.size()), capacity_(value.size()) {
  if (size_ > 0) {
    std::memcpy(data_, value.data(), size_);
  }
}

SecretKey SecretKey::take(std::string& source) {
  SecretKey key(source);
  sodium_memzero(source.data(), source.size());
  source.clear();
  return key;
}

SecretKey SecretKey::random(size_t size) {
  SecretKey key = zeroed(size);
  randombytes_buf(key.data_, size);
  return key;
}

SecretKey SecretKey::zeroed(size_t size) {
  SecretKey key;
  key.data_ = allocate(size);
  key.size_ = size;
  key.capacity_ = size;
  if (size > 0) {
    sodium_memzero(key.data_, size);
  }
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept
    : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.capacity_ = 0;
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.capacity_ = 0;
  }
  return *this;
}

SecretKey::~SecretKey() {
  release();
}

void SecretKey::release() {
  if (data_ != nullptr) {
    deallocate(data_);
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

std::string_view SecretKey::expose() const {
  if (data_ == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char*>(data_), size_};
}

void SecretKey::truncate(size_t size) {
  if (size < size_) {
    sodium_memzero(data_ + size, size_ - size);
    size_ = size;
  }
}

Result<void> crypto_init() {
  if (sodium_init() < 0) {
    return fail(Error::internal("libsodium failed to initialise"));
  }
  return {};
}

void disable_core_dumps() {
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

}  // namespace keygate
