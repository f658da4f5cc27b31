#pragma once
// A loopback port where connections are refused for as long as this object lives.
//
// Closing a listener and reusing its port races with parallel tests: under `ctest -j` another
// test's mock upstream may be given the same port and answer. A socket that is bound but never
// listens keeps the port taken (it is bound without SO_REUSEADDR, so no one else can bind it),
// and the kernel answers every SYN to it with a reset: "connection refused".

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

namespace keygate::testing {

class RefusingPort {
 public:
  RefusingPort() : socket_(ioc_) {
    socket_.open(boost::asio::ip::tcp::v4());
    socket_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  }
  uint16_t port() const { return socket_.local_endpoint().port(); }
  std::string base_url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace keygate::testing
