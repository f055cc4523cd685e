// What the console's pages share: escaping (every value rendered goes through `esc`),
// query parameters, small pieces of markup, and the answers' headers — a strict
// Content-Security-Policy (scripts only from the console itself, no inline code, no
// framing) and no caching of any private page. Private to src/app.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "topupd/adapters/net/http.hpp"
#include "topupd/adapters/net/http_server.hpp"

namespace topupd::app::html {

inline std::string esc(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// For a value inside a URL's query or path segment.
inline std::string url(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

inline std::map<std::string, std::string> params(std::string_view text) {
  std::map<std::string, std::string> out;
  for (auto& [name, value] : adapters::net::parse_form(text)) out[name] = value;
  return out;
}

inline std::string param(const std::map<std::string, std::string>& params, const std::string& name) {
  const auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

// The value of cookie `name` in a Cookie header's text; empty when it has none.
inline std::string cookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return "";
}

inline void secure_headers(adapters::net::ServerResponse& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                         "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

inline adapters::net::ServerResponse respond(int status, std::string type, std::string body) {
  adapters::net::ServerResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::move(type));
  r.headers.emplace_back("Cache-Control", "no-store");
  secure_headers(r);
  r.body = std::move(body);
  return r;
}

// After a form: see the page again (303), with a note it shows.
inline adapters::net::ServerResponse redirect(const std::string& location) {
  adapters::net::ServerResponse r = respond(303, "text/plain; charset=utf-8", "");
  r.headers.emplace_back("Location", location);
  return r;
}

// A form that changes something: POST, with the session's CSRF token.
inline std::string form_open(const std::string& action, const std::string& csrf, const std::string& cls = "") {
  return fmt::format(R"(<form method="post" action="{}"{}><input type="hidden" name="csrf" value="{}">)", esc(action),
                     cls.empty() ? "" : " class=\"" + esc(cls) + "\"", esc(csrf));
}

}  // namespace topupd::app::html
