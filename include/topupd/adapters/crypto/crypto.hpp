// Hashes, MACs, RSA signatures and encodings for gateway signature schemes (OpenSSL).
//
// Byte strings travel as std::string. Comparisons of secrets and MACs use
// `constant_time_equal`. Key material passed in PEM form is parsed per call and never
// logged; functions return nullopt/false instead of throwing on bad keys or input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace topupd::adapters::crypto {

std::string sha256(std::string_view data);  // 32 raw bytes
std::string sha512(std::string_view data);  // 64 raw bytes
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hmac_sha512(std::string_view key, std::string_view data);
// Only where a standard fixes it: TOTP (RFC 6238) as authenticator apps compute it.
std::string hmac_sha1(std::string_view key, std::string_view data);

std::string hex(std::string_view bytes);  // lower case
std::optional<std::string> unhex(std::string_view text);
std::string base64(std::string_view bytes);  // standard alphabet, padded
std::optional<std::string> unbase64(std::string_view text);  // the canonical spelling only
std::string base64url(std::string_view bytes);  // RFC 4648 §5, unpadded: cookies and URLs
std::string base32(std::string_view bytes);     // RFC 4648 §6, unpadded: TOTP secrets
std::optional<std::string> unbase32(std::string_view text);  // upper or lower case, padding and spaces ignored

// Equal length and equal bytes, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// RSASSA-PKCS1-v1_5 with SHA-256 ("SHA256withRSA"). The key is PEM (PKCS#8 or PKCS#1).
std::optional<std::string> rsa_sha256_sign(std::string_view private_key_pem, std::string_view data);
bool rsa_sha256_verify(std::string_view public_key_pem, std::string_view data, std::string_view signature);
// True when the PEM text holds a usable private (or public) RSA key.
bool is_private_key(std::string_view pem);
bool is_public_key(std::string_view pem);

// Cryptographically random bytes.
std::string random_bytes(std::size_t count);

}  // namespace topupd::adapters::crypto
