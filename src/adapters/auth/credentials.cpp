// Passwords, TOTP and session tokens (auth/credentials.hpp).
#include "topupd/adapters/auth/credentials.hpp"

#include <sodium.h>

#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"

namespace topupd::adapters::auth {
namespace {

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not start");
}

std::string percent_encoded(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

std::string hash_password(std::string_view password) {
  ensure_sodium();
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str(out.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    throw std::runtime_error("hashing a password ran out of memory");
  }
  return std::string(out.data());
}

bool verify_password(std::string_view stored, std::string_view password) {
  ensure_sodium();
  if (stored.empty() || stored.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string terminated(stored);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

void verify_nothing(std::string_view password) {
  static const std::string dummy = hash_password("no user has this password");
  (void)verify_password(dummy, password);
}

std::string totp_secret() { return crypto::random_bytes(20); }

std::string totp_code(std::string_view secret, std::int64_t unix_seconds, int digits) {
  const std::uint64_t step = static_cast<std::uint64_t>(unix_seconds / 30);
  std::string counter(8, '\0');
  for (int i = 0; i < 8; ++i) counter[static_cast<std::size_t>(7 - i)] = static_cast<char>((step >> (8 * i)) & 0xFF);
  const std::string mac = crypto::hmac_sha1(secret, counter);
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(mac[i])); };
  const std::size_t offset = byte(19) & 0x0F;
  const std::uint32_t binary =
      ((byte(offset) & 0x7F) << 24) | (byte(offset + 1) << 16) | (byte(offset + 2) << 8) | byte(offset + 3);
  std::uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  return fmt::format("{:0{}}", binary % modulus, digits);
}

std::optional<std::int64_t> totp_accept(std::string_view secret, std::string_view code, std::int64_t unix_seconds,
                                        std::optional<std::int64_t> last_used_step) {
  if (code.size() != 6) return std::nullopt;
  const std::int64_t now_step = unix_seconds / 30;
  std::optional<std::int64_t> matched;
  for (std::int64_t step = now_step - 1; step <= now_step + 1; ++step) {
    // Every candidate is computed and compared, so the time does not tell which matched.
    const bool equal = crypto::constant_time_equal(totp_code(secret, step * 30), code);
    if (equal && !matched && (!last_used_step || step > *last_used_step)) matched = step;
  }
  return matched;
}

std::string otpauth_uri(std::string_view issuer, std::string_view user, std::string_view secret) {
  return fmt::format("otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
                     percent_encoded(issuer), percent_encoded(user), crypto::base32(secret), percent_encoded(issuer));
}

std::string new_session_id() { return crypto::base64url(crypto::random_bytes(32)); }

std::string session_hash(std::string_view session_id) { return crypto::hex(crypto::sha256(session_id)); }

std::string csrf_token(std::string_view session_id) {
  return crypto::base64url(crypto::hmac_sha256(session_id, "topupd console csrf"));
}

bool csrf_valid(std::string_view session_id, std::string_view token) {
  return !session_id.empty() && crypto::constant_time_equal(csrf_token(session_id), token);
}

}  // namespace topupd::adapters::auth
