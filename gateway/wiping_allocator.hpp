#pragma once
// An allocator that zeroes memory before giving it back. The upstream request's header fields use
// it because they hold the provider key (Authorization / x-api-key / x-goog-api-key) while the
// request is written; once the request is destroyed, no copy of the key is left in freed heap.

#include <string.h>  // explicit_bzero

#include <cstddef>
#include <memory>

namespace keygate::gateway {

template <class T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    // Not optimised away, unlike memset; glibc's is a vectorised memset behind a compiler
    // barrier (OPENSSL_cleanse stores 8 bytes at a time: ~330 instructions per 512-byte head).
    explicit_bzero(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace keygate::gateway
