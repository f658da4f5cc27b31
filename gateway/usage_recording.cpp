// (in progress) usage recording: until the usage writer lands, rows are counted, not stored.
#include "gateway/app.hpp"

namespace keygate::gateway {
namespace {
class CountingUsageSink final : public UsageSink {
 public:
  void record(UsageEvent) override { ++count_; }

 private:
  std::atomic<uint64_t> count_{0};
};
}  // namespace

std::unique_ptr<UsageSink> make_usage_sink(const Config&, Keystore&) {
  return std::make_unique<CountingUsageSink>();
}

}  // namespace keygate::gateway
