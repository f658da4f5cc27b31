#pragma once
// A real keygate (the same App that `keygate serve` runs) in-process on 127.0.0.1, port 0, with a
// fresh data directory (real SQLite file, real master key), a user and an admin with tokens.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "gateway/app.hpp"

namespace keygate::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

struct GatewayOptions {
  // Provider name -> base_url (e.g. {"openai", mock.base_url("/v1")}).
  std::vector<std::pair<std::string, std::string>> base_urls;
  // Extra JSON members for the config file (e.g. R"("models": {"fast": "openai/gpt-4o-mini"})").
  std::string extra_config;
  std::function<void(gateway::Config&)> tweak;
};

class TestGateway {
 public:
  explicit TestGateway(GatewayOptions options = {});
  ~TestGateway();

  uint16_t port() const { return port_; }
  gateway::App& app() { return *app_; }
  Keystore& keystore() { return app_->keystore(); }
  const std::string& data_dir() const { return data_dir_; }
  // Stops the server (drain) and waits for it.
  void stop();

  std::string admin_token;
  std::string user_token;   // user "alice"
  std::string user_id;
  std::string other_token;  // user "bob"
  std::string other_id;

 private:
  TempDir dir_;
  std::string data_dir_;
  std::unique_ptr<gateway::App> app_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

std::string chat_body(const std::string& model = "openai/gpt-4o-mini", bool stream = false,
                      const std::string& extra = "");

}  // namespace keygate::testing
