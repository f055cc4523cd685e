// The console's secrets: passwords hashed with argon2id (libsodium's crypto_pwhash_str,
// whose string carries its own salt and costs), time-based one-time codes (RFC 6238:
// HMAC-SHA-1, 6 digits, 30 s steps, one step either side, a code's step never accepted
// twice), and session ids with the CSRF token bound to each. Only hashes of session ids
// are stored; the CSRF token is derived from the session id, so a page cannot forge it
// without the cookie it cannot read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topupd::adapters::auth {

// argon2id at libsodium's "interactive" costs (64 MiB, 2 passes). Throws
// std::runtime_error when the memory cannot be had.
std::string hash_password(std::string_view password);
// False for a wrong password or a hash this build cannot read.
bool verify_password(std::string_view stored, std::string_view password);
// Spends the same time as a real check: a login for an unknown name must not answer
// faster than one with a wrong password.
void verify_nothing(std::string_view password);

// TOTP. `secret` is raw bytes (20 from totp_secret); shown to people in base32.
std::string totp_secret();
std::string totp_code(std::string_view secret, std::int64_t unix_seconds, int digits = 6);
// The step `code` matches, within one step of `unix_seconds`, later than `last_used_step`.
std::optional<std::int64_t> totp_accept(std::string_view secret, std::string_view code, std::int64_t unix_seconds,
                                        std::optional<std::int64_t> last_used_step);
// otpauth://totp/ISSUER:USER?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(std::string_view issuer, std::string_view user, std::string_view secret);

// 32 random bytes, base64url: what the cookie carries.
std::string new_session_id();
// What the store keeps of it (SHA-256, hex).
std::string session_hash(std::string_view session_id);
// The CSRF token of a session, and its check in constant time.
std::string csrf_token(std::string_view session_id);
bool csrf_valid(std::string_view session_id, std::string_view token);

}  // namespace topupd::adapters::auth
