// The client's HTTP/1.1 on the wire (http_wire.hpp).
#include "http_wire.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace topupd::adapters::net::wire {

namespace {

// RFC 9110 tchar.
bool is_token(std::string_view text) {
  static constexpr std::string_view kMarks = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
           const auto u = static_cast<unsigned char>(c);
           return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                  kMarks.find(c) != std::string_view::npos;
         });
}

// A field value may hold anything but the bytes that end a line or a C string.
bool is_field_value(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// No control character and no space: the request line splits on spaces.
bool is_target(std::string_view text) {
  return !text.empty() && std::none_of(text.begin(), text.end(), [](char c) {
           const auto u = static_cast<unsigned char>(c);
           return u <= 0x20 || u == 0x7f;
         });
}

bool client_owned(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Connection");
}

bool expects_body(std::string_view method) { return method == "POST" || method == "PUT" || method == "PATCH"; }

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

std::optional<std::string> write_request_head(std::string& out, const RequestLine& line, const Headers& headers,
                                              std::size_t body_size) {
  if (!is_token(line.method)) return fmt::format("the method {:?} is not a token", line.method);
  if (!is_target(line.target)) return std::string("the request target holds a space or a control character");
  if (!is_field_value(line.host) || !is_field_value(line.proxy_authorization)) {
    return std::string("the host or the proxy's credentials hold a line break");
  }
  std::size_t size = line.method.size() + line.target.size() + line.host.size() + 96;
  for (const auto& [name, value] : headers) {
    if (!is_token(name)) return fmt::format("the header name {:?} is not a token", name);
    // The value is never shown: it may be a credential.
    if (!is_field_value(value)) return fmt::format("the value of header {} holds a line break", name);
    size += name.size() + value.size() + 4;
  }
  const auto given = [&](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& header) { return iequals(header.first, name); });
  };
  out.reserve(out.size() + size);
  out.append(line.method).append(" ").append(line.target).append(" HTTP/1.1\r\n");
  if (!given("Host")) append_field(out, "Host", line.host);
  if (!given("User-Agent")) append_field(out, "User-Agent", "topupd");
  if (!line.proxy_authorization.empty() && !given("Proxy-Authorization")) {
    append_field(out, "Proxy-Authorization", line.proxy_authorization);
  }
  for (auto it = headers.begin(); it != headers.end(); ++it) {
    const std::string& name = it->first;  // not a structured binding: clang 14 cannot capture those
    if (client_owned(name)) continue;
    const bool replaced_later =
        std::any_of(std::next(it), headers.end(), [&](const auto& later) { return iequals(later.first, name); });
    if (!replaced_later) append_field(out, name, it->second);
  }
  if (body_size > 0 || expects_body(line.method)) {
    std::array<char, 24> digits{};
    const auto end = fmt::format_to(digits.data(), "{}", body_size);
    append_field(out, "Content-Length", std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data())));
  }
  out.append("\r\n");
  return std::nullopt;
}

ResponseReader::ResponseReader(std::uint64_t body_limit) {
  this->body_limit(body_limit);
  header_limit(64 * 1024);
}

void ResponseReader::on_response_impl(int code, string_view, int, error_code&) { response_.status = code; }

void ResponseReader::on_field_impl(boost::beast::http::field, string_view name, string_view value, error_code&) {
  response_.headers.emplace_back(std::string(name), std::string(value));
}

void ResponseReader::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code&) {
  // The parser has already refused a Content-Length over the body limit.
  if (content_length) response_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t ResponseReader::on_body_impl(string_view body, error_code&) {
  response_.body.append(body.data(), body.size());
  return body.size();
}

std::size_t ResponseReader::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
  response_.body.append(body.data(), body.size());
  return body.size();
}

}  // namespace topupd::adapters::net::wire
