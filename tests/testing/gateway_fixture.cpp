#include "testing/gateway_fixture.hpp"

#include <chrono>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>

#include "keystore/master_key.hpp"
#include "keystore/postgres.hpp"
#include "keystore/sqlite.hpp"

namespace keygate::testing {

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (;;) {
    path_ = base / ("keygate-test-" + std::to_string(rd()) + std::to_string(rd()));
    if (std::filesystem::create_directory(path_)) {
      break;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestGateway::TestGateway(GatewayOptions options) {
  if (!crypto_init()) {
    throw std::runtime_error("libsodium init failed");
  }
  data_dir_ = dir_.str() + "/data";
  std::filesystem::create_directories(data_dir_);
  if (options.master_key_file.empty()) {
    if (auto ok = create_master_key_file(data_dir_ + "/master.key"); !ok) {
      throw std::runtime_error(ok.error().message);
    }
  }
  std::string json = R"({"listen": "127.0.0.1:0", "threads": 2, "providers": {)";
  bool first = true;
  for (auto& [name, url] : options.base_urls) {
    json += (first ? "" : ",") + std::string("\"") + name + R"(": {"base_url": ")" + url + "\"}";
    first = false;
  }
  json += "}";
  if (!options.extra_config.empty()) {
    json += "," + options.extra_config;
  }
  json += "}";
  auto config = gateway::parse_config(json);
  if (!config) {
    throw std::runtime_error("test config: " + config.error().message);
  }
  config->data_dir = data_dir_;
  config->database = options.database;
  config->master_key_file = options.master_key_file;
  if (options.tweak) {
    options.tweak(*config);
  }
  auto app = gateway::App::create(std::move(*config));
  if (!app) {
    throw std::runtime_error("app: " + app.error().message);
  }
  app_ = std::move(*app);
  if (!options.create_users) {
    auto port = app_->start();
    if (!port) {
      throw std::runtime_error("listen: " + port.error().message);
    }
    port_ = *port;
    return;
  }
  auto admin = app_->keystore().create_user("admin", true);
  auto alice = app_->keystore().create_user("alice", false);
  auto bob = app_->keystore().create_user("bob", false);
  if (!admin || !alice || !bob) {
    throw std::runtime_error("could not create test users");
  }
  admin_token = admin->token;
  user_token = alice->token;
  user_id = alice->user.id;
  other_token = bob->token;
  other_id = bob->user.id;
  auto port = app_->start();
  if (!port) {
    throw std::runtime_error("listen: " + port.error().message);
  }
  port_ = *port;
}

void TestGateway::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  app_->shutdown();
  app_->wait();
}

TestGateway::~TestGateway() {
  stop();
}

std::string postgres_test_database(const std::string& name) {
  const char* server = std::getenv("KEYGATE_TEST_POSTGRES");
  if (server == nullptr || *server == '\0') {
    throw std::runtime_error("KEYGATE_TEST_POSTGRES is not set (CTest's postgres fixture sets it)");
  }
  auto admin = pg::Connection::open(server);
  if (!admin) {
    throw std::runtime_error(admin.error().message);
  }
  if (auto r = (*admin)->exec("DROP SCHEMA IF EXISTS " + name + " CASCADE; CREATE SCHEMA " + name);
      !r) {
    throw std::runtime_error(r.error().message);
  }
  return std::string(server) + "&options=-c%20search_path%3D" + name;
}

GatewayOptions reopening(const std::string& data_dir) {
  GatewayOptions options;
  options.create_users = false;
  options.master_key_file = data_dir + "/master.key";
  options.tweak = [data_dir](gateway::Config& c) { c.data_dir = data_dir; };
  return options;
}

std::string chat_body(const std::string& model, bool stream, const std::string& extra) {
  std::string body =
      R"({"model": ")" + model + R"(", "messages": [{"role": "user", "content": "Say hello"}])";
  if (stream) {
    body += R"(, "stream": true)";
  }
  if (!extra.empty()) {
    body += ", " + extra;
  }
  body += "}";
  return body;
}

int64_t TestGateway::query_int(const std::string& sql) {
  auto db = sqlite::Database::open(data_dir_ + "/keygate.db");
  if (!db) {
    throw std::runtime_error("cannot open the test database: " + db.error().message);
  }
  auto statement = db->prepare(sql);
  if (!statement) {
    throw std::runtime_error(sql + ": " + statement.error().message);
  }
  auto row = statement->step();
  if (!row || !*row) {
    throw std::runtime_error(sql + ": no row");
  }
  return statement->column_int(0);
}

int64_t TestGateway::wait_usage_rows(int64_t n) {
  int64_t have = 0;
  for (int i = 0; i < 250; ++i) {
    app().usage().flush();
    have = query_int("SELECT count(*) FROM usage");
    if (have >= n) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return have;
}

}  // namespace keygate::testing
