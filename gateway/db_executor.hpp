#pragma once
// Runs blocking database work on its own small thread pool and resumes the awaiting coroutine on
// its own strand, so SQLite never blocks an I/O thread.

#include <boost/asio/thread_pool.hpp>

#include <optional>
#include <type_traits>

#include "gateway/asio_fwd.hpp"

namespace keygate::gateway {

class DbExecutor {
 public:
  explicit DbExecutor(int threads) : pool_(static_cast<std::size_t>(threads)) {}
  ~DbExecutor() { stop(); }

  // auto work = [&] { return keystore.authenticate(token); };
  // auto result = co_await db.run(work);
  // `work` is taken by reference and must be a named local of the awaiting coroutine: g++ 12
  // destroys temporaries with captures inside a co_await expression twice.
  template <class F>
  auto run(F& work) -> awaitable<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    std::optional<R> out;
    co_await net::async_initiate<const net::use_awaitable_t<>, void()>(
        [this, &work, &out](auto handler) {
          net::post(pool_, [&work, &out, handler = std::move(handler)]() mutable {
            out.emplace(work());
            // Resume the awaiting coroutine on its own executor (its connection's strand).
            auto executor = net::get_associated_executor(handler);
            net::post(executor, std::move(handler));
          });
        },
        net::use_awaitable);
    co_return std::move(*out);
  }

  net::thread_pool::executor_type executor() { return pool_.get_executor(); }

  void stop() {
    pool_.stop();
    pool_.join();
  }

 private:
  net::thread_pool pool_;
};

}  // namespace keygate::gateway
