// The client's HTTP/1.1 on the wire: a request's head written as one string, and a
// response read straight into `net::Response`.
//
// Private to src/adapters/net (it includes Beast's parser); http_client.cpp is its user.
// Beast's request message kept every field in a node of its own and its serializer
// walked them as a chain of buffers (9 % of topupd's time when polling saturated), and
// its response parser kept the fields in nodes that were then copied into `Response`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/basic_parser.hpp>

#include "topupd/adapters/net/http.hpp"

namespace topupd::adapters::net::wire {

struct RequestLine {
  std::string_view method;
  std::string_view target;               // origin-form; absolute-form through a plain-HTTP proxy
  std::string_view host;                 // the Host header's value
  std::string_view proxy_authorization;  // empty: none
};

// Appends the head of a request with a body of `body_size` bytes to `out`: the request
// line, Host, `User-Agent: topupd`, Proxy-Authorization, then `headers` in order. A
// header of `headers` replaces the default of its name, and a later one of the same name
// an earlier one. Content-Length is the client's to write (when there is a body, or the
// method expects one), as is the connection's use: the request's own Content-Length,
// Transfer-Encoding and Connection are left out. Returns what is wrong, writing nothing,
// when a method or name is not a token, or a target or value would break the head.
std::optional<std::string> write_request_head(std::string& out, const RequestLine& line, const Headers& headers,
                                              std::size_t body_size);

// Reads one response: status, headers in the order received, the body (either framing)
// up to `body_limit` bytes, the header up to 64 KiB.
class ResponseReader final : public boost::beast::http::basic_parser<false> {
 public:
  explicit ResponseReader(std::uint64_t body_limit);

  // The response read; once, after the read completed.
  Response take() { return std::move(response_); }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field, string_view name, string_view value, error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  Response response_;
};

}  // namespace topupd::adapters::net::wire
