// Signature primitives, pinned against values computed independently with the
// openssl command line (the commands are next to each value).
#include <gtest/gtest.h>

#include <vector>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/providers/http_providers.hpp"

namespace topupd::adapters {
namespace {

using namespace crypto;

TEST(Crypto, StripeSignatureMatchesOpenssl) {
  // printf '%s' '1700000000.{"id":"evt_1","object":"event"}' | openssl dgst -sha256 -hmac whsec_test -hex
  EXPECT_EQ(hex(hmac_sha256("whsec_test", "1700000000.{\"id\":\"evt_1\",\"object\":\"event\"}")),
            "4c15fb2a43f93ef61eaa3e0893866d57cad9cad4223242cfb96f362480cb4021");
}

TEST(Crypto, HmacKeysShorterAndLongerThanABlockMatchOpenssl) {
  // RFC 4231 cases 2 and 6. printf '%s' 'what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe -hex
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A 131-byte key is hashed first. printf '%s' "$DATA" | openssl dgst -sha256 -mac HMAC -macopt hexkey:aa…aa -hex
  const std::string long_key(131, '\xaa');
  const std::string data = "Test Using Larger Than Block-Size Key - Hash Key First";
  EXPECT_EQ(hex(hmac_sha256(long_key, data)), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hex(hmac_sha512(long_key, data)),
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
}

TEST(Crypto, SnapSymmetricSignatureMatchesOpenssl) {
  const std::string body = R"({"partnerReferenceNo":"2020102900000000000001","accountNo":"1234567890"})";
  // printf '%s' "$BODY" | openssl dgst -sha256 -hex
  const std::string body_hash = hex(sha256(body));
  EXPECT_EQ(body_hash, "31fb254e344e51e89c57673f8e1969fcce0d29b360049f6fd98edb5287ec19fa");
  // printf '%s' "POST:/snap/v1.0/balance-inquiry:tok123:$HASH:2020-12-17T10:55:00+07:00" |
  //   openssl dgst -sha512 -hmac client-secret -binary | base64 -w0
  const std::string mac =
      hmac_sha512("client-secret", "POST:/snap/v1.0/balance-inquiry:tok123:" + body_hash + ":2020-12-17T10:55:00+07:00");
  EXPECT_EQ(base64(mac), "W4fcZ4tS6qUQke8czY97th/05bGvss+DRB8XnHth203JMgLx6q7fGg+FeCMN4RRuTyzraQtJEQklANZRxfXftA==");
  EXPECT_EQ(base64(mac).size(), 88u);
  // An empty body (GET) hashes the empty string.
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, IrisSignatureMatchesOpenssl) {
  // printf '%s' '{"transaction_id":"t1","status":"topup"}merchant-key' | openssl dgst -sha512 -hex
  EXPECT_EQ(hex(sha512(std::string(R"({"transaction_id":"t1","status":"topup"})") + "merchant-key")),
            "34abce4a274b78f3eaeb0ea87f02837395e937f5a9e87b148045e65d9b28c7032105361efc6b012d620234d025d238a6"
            "e9165bfdc030c1af81f655767bff7870");
}

TEST(Crypto, EncodingsRoundTripAndRejectGarbage) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(unbase64(base64(s)), s);
    EXPECT_EQ(unhex(hex(s)), s);
  }
  EXPECT_EQ(base64("sk_test_x:"), "c2tfdGVzdF94Og==");  // Basic auth with an empty password
  EXPECT_FALSE(unbase64("abc"));
  EXPECT_FALSE(unbase64("ab$="));
  // The same bytes spelled with padding bits set, or with '=' inside, are refused.
  EXPECT_EQ(unbase64("QQ=="), "A");
  EXPECT_FALSE(unbase64("QR=="));
  EXPECT_EQ(unbase64("QUE="), "AA");
  EXPECT_FALSE(unbase64("QUF="));
  EXPECT_FALSE(unbase64("QQ==QUFB"));
  EXPECT_FALSE(unhex("abc"));
  EXPECT_FALSE(unhex("zz"));
}

TEST(Crypto, ConstantTimeEqualComparesLengthAndBytes) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Crypto, BadKeysAreRefusedNotThrown) {
  EXPECT_FALSE(rsa_sha256_sign("not a key", "x"));
  EXPECT_FALSE(rsa_sha256_verify("not a key", "x", "sig"));
  // A PEM frame around four bytes of nothing: the right shape, not a key.
  const std::string frame = "-----";
  EXPECT_FALSE(is_private_key(frame + "BEGIN PRIVATE KEY" + frame + "\nAAAA\n" + frame + "END PRIVATE KEY" + frame + "\n"));
}

TEST(WireNames, AreDerivedDeterministicallyFromTheKey) {
  const std::string key = "topupd-refill-payouts-1795594690989-0";
  EXPECT_EQ(snap_partner_reference(key), snap_partner_reference(key));
  EXPECT_NE(snap_partner_reference(key), snap_partner_reference(key + "1"));
  EXPECT_LE(snap_partner_reference(key).size(), 64u);
  const std::string external = snap_external_id(key);
  EXPECT_EQ(external, snap_external_id(key));
  EXPECT_EQ(external.size(), 20u);
  EXPECT_EQ(external.find_first_not_of("0123456789"), std::string::npos);
  EXPECT_EQ(stripe_idempotency_key(key), key);
  EXPECT_EQ(stripe_idempotency_key(std::string(300, 'k')).size(), 71u);
}

TEST(GatewayAmounts, ParseExactlyWithoutFloatingPoint) {
  const auto idr = *core::Currency::find("IDR");
  const auto usd = *core::Currency::find("USD");
  EXPECT_EQ(parse_major_text("123000.12", idr)->minor(), 12300012);
  EXPECT_EQ(parse_major_text("1241231", idr)->minor(), 124123100);
  EXPECT_EQ(parse_major_text("-3.5", usd)->minor(), -350);
  EXPECT_EQ(parse_major_text("0.1", usd)->minor(), 10);
  EXPECT_FALSE(parse_major_text("1e3", usd));
  EXPECT_FALSE(parse_major_text("1.005", usd));
  EXPECT_FALSE(parse_major_text("", usd));
  EXPECT_EQ(parse_minor_text("666670", usd)->minor(), 666670);
  EXPECT_EQ(parse_minor_text("-61414", usd)->minor(), -61414);
  EXPECT_FALSE(parse_minor_text("12.5", usd));
  EXPECT_FALSE(parse_minor_text("9999999999999999999", usd));
}

}  // namespace
}  // namespace topupd::adapters
