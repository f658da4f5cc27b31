#include "keystore/secret.hpp"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

namespace keygate {

namespace {

unsigned char* allocate(size_t size) {
  if (size == 0) {
    return nullptr;
  }
  // sodium_malloc aborts if libsodium is not initialised; a SecretKey may be built before
  // crypto_init() runs (static setup, tests), so make sure here. Thread-safe and idempotent.
  static const bool initialised = sodium_init() >= 0;
  (void)initialised;
  auto* p = static_cast<unsigned char*>(sodium_malloc(size));
  if (p == nullptr) {
    // Out of (lockable) memory: there is no way to hold the secret safely, and continuing with a
    // half-built SecretKey would be worse than stopping.
    std::abort();
  }
  return p;
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
    sodium_free(data_);  // zeroes the whole allocation before unmapping it
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
