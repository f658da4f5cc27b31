// keygate verifies upstream certificates: a provider endpoint presenting a certificate no system
// CA signed (here a fresh self-signed one) must be refused, and the key must never be sent to it.

#include <catch2/catch.hpp>

#include <boost/asio/ssl.hpp>

#include <cstdlib>
#include <thread>

#include "testing/gateway_fixture.hpp"
#include "testing/http_client.hpp"

using namespace keygate::testing;
namespace net = boost::asio;
namespace ssl = net::ssl;
using net::ip::tcp;

namespace {

// A TLS listener on 127.0.0.1 that completes handshakes with a self-signed certificate and
// records whether any application bytes (an HTTP request, a key) ever arrived.
class SelfSignedTlsServer {
 public:
  explicit SelfSignedTlsServer(const std::string& dir)
      : context_(ssl::context::tls_server),
        acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    context_.use_certificate_chain_file(cert);
    context_.use_private_key_file(key, ssl::context::pem);
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~SelfSignedTlsServer() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool received_bytes() const { return received_.load(); }
  int handshakes_attempted() const { return attempts_.load(); }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        return;
      }
      ++attempts_;
      auto stream = std::make_shared<ssl::stream<tcp::socket>>(std::move(socket), context_);
      stream->async_handshake(ssl::stream_base::server, [this,
                                                         stream](boost::system::error_code hec) {
        if (hec) {
          return;  // the client refused our certificate
        }
        auto buf = std::make_shared<std::array<char, 4096>>();
        stream->async_read_some(net::buffer(*buf), [this, stream, buf](auto rec, std::size_t n) {
          if (!rec && n > 0) {
            received_ = true;
          }
        });
      });
      accept();
    });
  }

  net::io_context ioc_;
  ssl::context context_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> received_{false};
  std::atomic<int> attempts_{0};
};

}  // namespace

TEST_CASE("an upstream with a certificate no trusted CA signed is refused before any request",
          "[proxy][tls]") {
  TempDir dir;
  SelfSignedTlsServer upstream(dir.str());
  setenv("OPENAI_API_KEY", "sk-tls-test-key-000000000000001234", 1);
  GatewayOptions options;
  options.base_urls = {{"openai", "https://127.0.0.1:" + std::to_string(upstream.port()) + "/v1"}};
  TestGateway gw(options);
  auto r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body(),
                        {{"authorization", bearer(gw.user_token)}});
  INFO(r.body);
  CHECK(r.status == 502);
  CHECK(r.body.find("upstream_unreachable") != std::string::npos);
  CHECK(upstream.handshakes_attempted() >= 1);  // keygate did try TLS with it
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(upstream.received_bytes());  // and never sent the request (or the key)
}
