// Passwords (argon2id), TOTP against RFC 6238's test vectors, session ids and CSRF tokens.
#include "topupd/adapters/auth/credentials.hpp"

#include <set>

#include <gtest/gtest.h>

#include "topupd/adapters/crypto/crypto.hpp"

namespace topupd::adapters::auth {
namespace {

TEST(PasswordTest, Argon2idHashesVerifyTheirPasswordOnlyAndAreSaltedEachTime) {
  const std::string a = hash_password("correct horse");
  const std::string b = hash_password("correct horse");
  EXPECT_EQ(a.rfind("$argon2id$", 0), 0u) << a;
  EXPECT_NE(a, b);
  EXPECT_TRUE(verify_password(a, "correct horse"));
  EXPECT_TRUE(verify_password(b, "correct horse"));
  EXPECT_FALSE(verify_password(a, "correct horsE"));
  EXPECT_FALSE(verify_password(a, ""));
  EXPECT_FALSE(verify_password("", "correct horse"));
  EXPECT_FALSE(verify_password("$argon2id$garbage", "correct horse"));
  EXPECT_EQ(a.find("correct"), std::string::npos);
}

// RFC 6238 appendix B, SHA-1, with the 20-byte seed "12345678901234567890".
TEST(TotpTest, MatchesTheRfc6238TestVectors) {
  const std::string seed = "12345678901234567890";
  EXPECT_EQ(totp_code(seed, 59, 8), "94287082");
  EXPECT_EQ(totp_code(seed, 1111111109, 8), "07081804");
  EXPECT_EQ(totp_code(seed, 1111111111, 8), "14050471");
  EXPECT_EQ(totp_code(seed, 1234567890, 8), "89005924");
  EXPECT_EQ(totp_code(seed, 2000000000, 8), "69279037");
  EXPECT_EQ(totp_code(seed, 20000000000, 8), "65353130");
  EXPECT_EQ(totp_code(seed, 59), "287082");  // six digits: the last six
}

TEST(TotpTest, ACodeIsAcceptedOneStepEitherSideAndNeverTwice) {
  const std::string seed = "12345678901234567890";
  const std::int64_t now = 1234567890;
  const std::string code = totp_code(seed, now);
  EXPECT_EQ(totp_accept(seed, code, now, std::nullopt), now / 30);
  EXPECT_EQ(totp_accept(seed, code, now + 30, std::nullopt), now / 30);
  EXPECT_EQ(totp_accept(seed, code, now - 30, std::nullopt), now / 30);
  EXPECT_EQ(totp_accept(seed, code, now + 60, std::nullopt), std::nullopt);
  EXPECT_EQ(totp_accept(seed, code, now, now / 30), std::nullopt);       // used
  EXPECT_EQ(totp_accept(seed, code, now, now / 30 - 1), now / 30);       // an older one was used
  EXPECT_EQ(totp_accept(seed, "12345", now, std::nullopt), std::nullopt);
  EXPECT_EQ(totp_accept(seed, "abcdef", now, std::nullopt), std::nullopt);
}

TEST(TotpTest, TheEnrolmentUriCarriesTheSecretInBase32) {
  const std::string seed = "12345678901234567890";
  EXPECT_EQ(crypto::base32(seed), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  EXPECT_EQ(crypto::unbase32("gezdgnbvgy3tqojqgezdgnbvgy3tqojq"), seed);
  EXPECT_EQ(crypto::unbase32("GEZ1"), std::nullopt);
  EXPECT_EQ(otpauth_uri("topupd", "ana@example.com", seed),
            "otpauth://totp/topupd:ana@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=topupd"
            "&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(totp_secret().size(), 20u);
}

TEST(SessionTokenTest, IdsAreLongRandomAndOnlyTheirHashIsKept) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = new_session_id();
    EXPECT_EQ(id.size(), 43u);  // 256 bits, base64url
    EXPECT_EQ(id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
  const std::string id = *seen.begin();
  EXPECT_EQ(session_hash(id).size(), 64u);
  EXPECT_EQ(session_hash(id).find(id), std::string::npos);
}

TEST(SessionTokenTest, TheCsrfTokenBelongsToItsSessionOnly) {
  const std::string a = new_session_id();
  const std::string b = new_session_id();
  EXPECT_TRUE(csrf_valid(a, csrf_token(a)));
  EXPECT_FALSE(csrf_valid(b, csrf_token(a)));
  EXPECT_FALSE(csrf_valid(a, ""));
  EXPECT_FALSE(csrf_valid("", csrf_token("")));
  std::string tampered = csrf_token(a);
  tampered[0] = tampered[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(csrf_valid(a, tampered));
}

}  // namespace
}  // namespace topupd::adapters::auth
