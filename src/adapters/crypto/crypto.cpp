#include "topupd/adapters/crypto/crypto.hpp"

#include <initializer_list>
#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

namespace topupd::adapters::crypto {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

// The digests, fetched once: OpenSSL 3 looks an algorithm up by name on every
// implicit fetch, which costs more than hashing a webhook.
const EVP_MD* fetched(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (!md) throw std::runtime_error(std::string("digest unavailable: ") + name);
  return md;  // kept for the life of the process
}
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = fetched("SHA256");
  return md;
}
const EVP_MD* sha1_md() {
  static const EVP_MD* const md = fetched("SHA1");
  return md;
}
const EVP_MD* sha512_md() {
  static const EVP_MD* const md = fetched("SHA512");
  return md;
}

// One digest context per thread, reused.
EVP_MD_CTX* context() {
  thread_local const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::runtime_error("out of memory for a digest");
  return ctx.get();
}

std::size_t digest_into(const EVP_MD* md, std::initializer_list<std::string_view> parts, unsigned char* out) {
  EVP_MD_CTX* ctx = context();
  unsigned int size = 0;
  bool ok = EVP_DigestInit_ex(ctx, md, nullptr) == 1;
  for (const auto part : parts) ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  if (!ok || EVP_DigestFinal_ex(ctx, out, &size) != 1) throw std::runtime_error("digest failed");
  return size;
}

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  const std::size_t size = digest_into(md, {data}, out);
  return std::string(reinterpret_cast<const char*>(out), size);
}

// HMAC (RFC 2104): H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ data)), K padded to the block size
// and first hashed when longer than it.
std::string mac(const EVP_MD* md, std::string_view key, std::string_view data) {
  const auto block = static_cast<std::size_t>(EVP_MD_get_block_size(md));
  unsigned char hashed_key[EVP_MAX_MD_SIZE];
  if (key.size() > block) {
    const std::size_t size = digest_into(md, {key}, hashed_key);
    key = std::string_view(reinterpret_cast<const char*>(hashed_key), size);
  }
  constexpr std::size_t kLargestBlock = 128;  // SHA-512's
  if (block > kLargestBlock) throw std::runtime_error("hmac: digest block too large");
  char inner_pad[kLargestBlock] = {};
  char outer_pad[kLargestBlock] = {};
  for (std::size_t i = 0; i < block; ++i) {
    const char k = i < key.size() ? key[i] : 0;
    inner_pad[i] = static_cast<char>(k ^ 0x36);
    outer_pad[i] = static_cast<char>(k ^ 0x5c);
  }
  unsigned char inner[EVP_MAX_MD_SIZE];
  const std::size_t inner_size = digest_into(md, {std::string_view(inner_pad, block), data}, inner);
  unsigned char out[EVP_MAX_MD_SIZE];
  const std::size_t size =
      digest_into(md, {std::string_view(outer_pad, block), std::string_view(reinterpret_cast<const char*>(inner), inner_size)}, out);
  OPENSSL_cleanse(inner_pad, sizeof inner_pad);
  OPENSSL_cleanse(outer_pad, sizeof outer_pad);
  OPENSSL_cleanse(hashed_key, sizeof hashed_key);
  return std::string(reinterpret_cast<const char*>(out), size);
}

Key read_key(std::string_view pem, bool private_key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  EVP_PKEY* key = private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                              : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!key && !private_key) {
    // "BEGIN RSA PUBLIC KEY" (PKCS#1)
    std::unique_ptr<BIO, BioFree> again(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    key = PEM_read_bio_PrivateKey(again.get(), nullptr, nullptr, nullptr);  // a private key also verifies
  }
  if (key && EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    key = nullptr;
  }
  return Key(key);
}

}  // namespace

std::string sha256(std::string_view data) { return digest(sha256_md(), data); }
std::string sha512(std::string_view data) { return digest(sha512_md(), data); }
std::string hmac_sha256(std::string_view key, std::string_view data) { return mac(sha256_md(), key, data); }
std::string hmac_sha512(std::string_view key, std::string_view data) { return mac(sha512_md(), key, data); }
std::string hmac_sha1(std::string_view key, std::string_view data) { return mac(sha1_md(), key, data); }

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int high = nibble(text[i]);
    const int low = nibble(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>((high << 4) | low);
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty()) return std::string();
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                    c == '/' || c == '=';
    if (!ok) return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (text.back() == '=') --size;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  // Only the one spelling of these bytes: padding bits set, or '=' inside the text, would
  // otherwise decode to the same bytes, and a signature altered that way would verify.
  if (base64(out) != text) return std::nullopt;
  return out;
}

std::string base64url(std::string_view bytes) {
  std::string out = base64(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

namespace {
constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
}

std::string base32(std::string_view bytes) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> unbase32(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const char* at = std::char_traits<char>::find(kBase32, 32, c);
    if (!at) return std::nullopt;
    buffer = (buffer << 5) | static_cast<unsigned>(at - kBase32);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xFF);
      bits -= 8;
    }
    buffer &= (1u << bits) - 1;
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> rsa_sha256_sign(std::string_view private_key_pem, std::string_view data) {
  Key key = read_key(private_key_pem, true);
  if (!key) return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return std::nullopt;
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return std::nullopt;
  }
  signature.resize(size);
  return signature;
}

bool rsa_sha256_verify(std::string_view public_key_pem, std::string_view data, std::string_view signature) {
  Key key = read_key(public_key_pem, false);
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

bool is_private_key(std::string_view pem) { return read_key(pem, true) != nullptr; }
bool is_public_key(std::string_view pem) { return read_key(pem, false) != nullptr; }

std::string random_bytes(std::size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    throw std::runtime_error("the system random generator failed");
  }
  return out;
}

}  // namespace topupd::adapters::crypto
