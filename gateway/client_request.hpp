#pragma once
// A client's request as keygate keeps it: the start line, the header fields in arrival order, and
// the body, filled by ClientRequestParser.
//
// Why not Beast's request_parser<string_body>: it stores each header field in a node of its own
// (an allocation and a case-insensitive tree insert per field, and a tree walk per lookup), and a
// new message per request. keygate looks up a handful of fields once each. Here the fields are
// one text buffer and a list of offsets searched in order, and a session fills the same object
// for each of its requests: once warm, a request costs no allocation at all.

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keygate::gateway {

class ClientRequest {
 public:
  boost::beast::http::verb method() const { return method_; }
  std::string_view method_string() const { return method_text_; }
  std::string_view target() const { return target_; }
  unsigned version() const { return version_; }  // 11 for HTTP/1.1
  bool keep_alive() const { return keep_alive_; }

  // The first field of that name (ASCII case-insensitive), or nullopt when there is none.
  std::optional<std::string_view> find(std::string_view name) const;
  // The first field of that name, or empty.
  std::string_view operator[](std::string_view name) const { return find(name).value_or(""); }
  std::size_t field_count() const { return fields_.size(); }

  const std::string& body() const { return body_; }
  std::string& body() { return body_; }

  // Empties it for the next request, keeping what it has allocated (up to a bound: a huge body
  // or header is not kept for an idle keep-alive connection).
  void clear();
  // Empties it and frees everything but the method and version (a stream's request is not read
  // again after its head is built, and a long conversation is hundreds of KB).
  void release_storage();

 private:
  friend class ClientRequestParser;
  struct FieldRef {
    uint32_t name_at, name_size, value_at, value_size;
  };

  boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
  std::string method_text_;
  std::string target_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  std::string field_text_;  // every name and value, back to back
  boost::container::small_vector<FieldRef, 16> fields_;
  std::string body_;
};

// Beast's HTTP/1 request parser (all its validation and limits) writing into a ClientRequest.
// The request must outlive the parser's use.
class ClientRequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;

  // Clears `request` and fills it as the parser reads.
  explicit ClientRequestParser(ClientRequest& request);

 private:
  void on_request_impl(boost::beast::http::verb method, string_view method_text, string_view target,
                       int version, error_code&) override;
  void on_response_impl(int, string_view, int, error_code&) override {}  // never: a request
  void on_field_impl(boost::beast::http::field, string_view name, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code&) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override;

  ClientRequest& request_;
};

}  // namespace keygate::gateway
