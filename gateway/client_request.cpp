#include "gateway/client_request.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <limits>

namespace keygate::gateway {

namespace {

// What clear() keeps between requests: enough for any usual header and chat request.
constexpr std::size_t kKeptFieldText = 4096;
constexpr std::size_t kKeptBody = 64 * 1024;

}  // namespace

std::optional<std::string_view> ClientRequest::find(std::string_view name) const {
  for (const FieldRef& f : fields_) {
    const std::string_view field_name(field_text_.data() + f.name_at, f.name_size);
    if (boost::beast::iequals(field_name, name)) {
      return std::string_view(field_text_.data() + f.value_at, f.value_size);
    }
  }
  return std::nullopt;
}

void ClientRequest::clear() {
  method_ = boost::beast::http::verb::unknown;
  method_text_.clear();
  target_.clear();
  version_ = 11;
  keep_alive_ = true;
  fields_.clear();
  if (field_text_.capacity() > kKeptFieldText) {
    std::string().swap(field_text_);
  } else {
    field_text_.clear();
  }
  if (body_.capacity() > kKeptBody) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
}

void ClientRequest::release_storage() {
  std::string().swap(target_);
  std::string().swap(field_text_);
  decltype(fields_)().swap(fields_);
  std::string().swap(body_);  // (moving an empty string in would keep the capacity)
}

ClientRequestParser::ClientRequestParser(ClientRequest& request) : request_(request) {
  request_.clear();
}

void ClientRequestParser::on_request_impl(boost::beast::http::verb method, string_view method_text,
                                          string_view target, int version, error_code&) {
  request_.method_ = method;
  request_.method_text_.assign(method_text.data(), method_text.size());
  request_.target_.assign(target.data(), target.size());
  request_.version_ = static_cast<unsigned>(version);
}

void ClientRequestParser::on_field_impl(boost::beast::http::field, string_view name,
                                        string_view value, error_code& ec) {
  std::string& text = request_.field_text_;
  // Offsets fit: the header limit (at most a few hundred KB) bounds the text.
  if (text.size() + name.size() + value.size() > std::numeric_limits<uint32_t>::max()) {
    ec = boost::beast::http::error::header_limit;
    return;
  }
  const auto at = static_cast<uint32_t>(text.size());
  text.append(name.data(), name.size());
  text.append(value.data(), value.size());
  request_.fields_.push_back({at, static_cast<uint32_t>(name.size()),
                              at + static_cast<uint32_t>(name.size()),
                              static_cast<uint32_t>(value.size())});
}

void ClientRequestParser::on_header_impl(error_code&) {
  request_.keep_alive_ = keep_alive();
}

void ClientRequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& length,
                                            error_code& ec) {
  if (length) {
    // The parser checked the length against its body limit before this call.
    if (*length > request_.body_.max_size()) {
      ec = boost::beast::http::error::buffer_overflow;
      return;
    }
    request_.body_.reserve(static_cast<std::size_t>(*length));
  }
}

std::size_t ClientRequestParser::on_body_impl(string_view body, error_code&) {
  request_.body_.append(body.data(), body.size());
  return body.size();
}

std::size_t ClientRequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  request_.body_.append(body.data(), body.size());
  return body.size();
}

void ClientRequestParser::on_finish_impl(error_code&) {
  request_.keep_alive_ = keep_alive();
}

}  // namespace keygate::gateway
