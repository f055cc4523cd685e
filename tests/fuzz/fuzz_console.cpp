// Fuzzes what the console reads from a browser before anyone is signed in, and what it
// writes back: form and query bodies, the Cookie header, user names and roles, base32
// TOTP secrets. Nothing may crash; escaped text never carries markup; a session cookie
// found is exactly what followed its name; base32 round-trips.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "console_html.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/core/access.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  namespace html = topupd::app::html;
  namespace crypto = topupd::adapters::crypto;

  const auto form = html::params(text);
  for (const auto& [name, value] : form) {
    const std::string escaped = html::esc(name + value);
    if (escaped.find_first_of("<>\"'") != std::string::npos) std::abort();
    (void)topupd::core::valid_user_name(value);
    (void)topupd::core::role_from(value);
  }
  const std::string cookie = html::cookie(text, "__Host-topupd_session");
  if (!cookie.empty() && text.find("__Host-topupd_session=" + cookie) == std::string::npos) std::abort();
  if (cookie.find(';') != std::string::npos) std::abort();

  const std::string url = html::url(text);
  if (url.find_first_of("<>\"' &?#/") != std::string::npos) std::abort();
  if (html::params("v=" + url).at("v") != text) std::abort();

  if (const auto bytes = crypto::unbase32(text)) {
    if (crypto::unbase32(crypto::base32(*bytes)) != *bytes) std::abort();
  }
  if (crypto::unbase32(crypto::base32(text)) != text) std::abort();
  return 0;
}
