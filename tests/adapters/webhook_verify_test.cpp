// Webhook verifiers against signatures computed independently with the openssl
// command line (the commands are next to each value).
#include <gtest/gtest.h>

#include <vector>

#include "topupd/adapters/webhooks/verify.hpp"

namespace topupd::adapters::webhooks {
namespace {

using namespace std::chrono_literals;

core::Timestamp at(long long unix_seconds) { return core::Timestamp(std::chrono::seconds(unix_seconds)); }

Incoming incoming(net::Headers headers, std::string body, core::Timestamp now = at(1700000010)) {
  return {"POST", "/webhooks/x", std::move(headers), std::move(body), now};
}

// printf '%s' '1700000000.{"id":"evt_1","object":"event"}' | openssl dgst -sha256 -hmac whsec_test -hex
constexpr const char* kStripeBody = R"({"id":"evt_1","object":"event"})";
constexpr const char* kStripeV1 = "4c15fb2a43f93ef61eaa3e0893866d57cad9cad4223242cfb96f362480cb4021";

Verdict stripe(const std::string& header, const std::string& body = kStripeBody, core::Timestamp now = at(1700000010)) {
  return verify_stripe(incoming({{"Stripe-Signature", header}}, body, now), "whsec_test", 300s).verdict;
}

TEST(StripeWebhook, AcceptsAGenuineSignatureAmongOthers) {
  EXPECT_EQ(stripe(std::string("t=1700000000,v1=") + kStripeV1), Verdict::accepted);
  // Secret rolling: several v1, one right; a v1 that is not hex and v0 are ignored.
  EXPECT_EQ(stripe(std::string("t=1700000000,v1=bad_signature,v1=") + std::string(64, '0') + ",v1=" + kStripeV1 +
                   ",v0=abc"),
            Verdict::accepted);
}

TEST(StripeWebhook, RejectsForgedStaleAndMalformedHeaders) {
  EXPECT_EQ(stripe(std::string("t=1700000001,v1=") + kStripeV1), Verdict::bad_signature);  // other timestamp
  EXPECT_EQ(stripe(std::string("t=1700000000,v1=") + kStripeV1, R"({"id":"evt_2","object":"event"})"),
            Verdict::bad_signature);
  EXPECT_EQ(stripe("t=1700000000,v1=bad_signature"), Verdict::bad_signature);
  EXPECT_EQ(stripe(std::string("t=1700000000,v1=") + kStripeV1, kStripeBody, at(1700000301)), Verdict::stale);
  EXPECT_EQ(stripe(std::string("t=1700000000,v1=") + kStripeV1, kStripeBody, at(1699999000)), Verdict::stale);
  const std::vector<std::string> malformed = {"",  "v1,t=1", "t=", "t=abc,v1=00", "t=1,t=2,v1=00",
                                              std::string("v1=") + kStripeV1};
  for (const auto& bad : malformed) {
    EXPECT_EQ(stripe(bad), Verdict::malformed) << bad;
  }
  EXPECT_EQ(verify_stripe(incoming({}, kStripeBody), "whsec_test", 300s).verdict, Verdict::malformed);
  const auto wrong_secret = verify_stripe(
      incoming({{"Stripe-Signature", std::string("t=1700000000,v1=") + kStripeV1}}, kStripeBody), "whsec_other", 300s);
  EXPECT_EQ(wrong_secret.verdict, Verdict::bad_signature);
  EXPECT_EQ(wrong_secret.detail.find(kStripeV1), std::string::npos);
}

TEST(IrisWebhook, ChecksTheSha512OfBodyAndKey) {
  // printf '%s' '{"transaction_id":"t1","status":"topup"}merchant-key' | openssl dgst -sha512 -hex
  const std::string body = R"({"transaction_id":"t1","status":"topup"})";
  const std::string signature =
      "34abce4a274b78f3eaeb0ea87f02837395e937f5a9e87b148045e65d9b28c7032105361efc6b012d620234d025d238a6"
      "e9165bfdc030c1af81f655767bff7870";
  EXPECT_TRUE(verify_iris(incoming({{"Iris-Signature", signature}}, body), "merchant-key").ok());
  std::string upper = signature;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(verify_iris(incoming({{"Iris-Signature", upper}}, body), "merchant-key").ok());
  EXPECT_EQ(verify_iris(incoming({{"Iris-Signature", signature}}, body + " "), "merchant-key").verdict,
            Verdict::bad_signature);
  EXPECT_EQ(verify_iris(incoming({}, body), "merchant-key").verdict, Verdict::malformed);
}

TEST(XenditAndFlipWebhooks, CompareTheirTokens) {
  EXPECT_TRUE(verify_xendit(incoming({{"X-CALLBACK-TOKEN", "tok"}}, "{}"), "tok").ok());
  EXPECT_EQ(verify_xendit(incoming({{"x-callback-token", "tok2"}}, "{}"), "tok").verdict, Verdict::bad_signature);
  EXPECT_EQ(verify_xendit(incoming({}, "{}"), "tok").verdict, Verdict::malformed);
  EXPECT_TRUE(verify_flip(incoming({}, "data=%7B%22id%22%3A1%7D&token=flip-token"), "flip-token").ok());
  EXPECT_EQ(verify_flip(incoming({}, "data=%7B%7D&token=other"), "flip-token").verdict, Verdict::bad_signature);
  EXPECT_EQ(verify_flip(incoming({}, "token=flip-token"), "flip-token").verdict, Verdict::malformed);
}

TEST(GenericWebhook, ChecksHmacSha512HexOrBase64AndTheTimestamp) {
  // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha512 -hmac s3cret -hex
  const std::string hex_mac =
      "dc1e516d819407dc7499d65764730002532ec84929b814348a41ac580d296980b613aeae247f57a1742d5df8479c8994"
      "52709f0c01906d399c442049b16b53fe";
  GenericScheme timed{"X-Signature", false, "X-Timestamp", 300s};
  EXPECT_TRUE(verify_generic(incoming({{"X-Signature", hex_mac}, {"X-Timestamp", "1700000000"}}, R"({"a":1})"), "s3cret",
                             timed).ok());
  EXPECT_EQ(verify_generic(incoming({{"X-Signature", hex_mac}, {"X-Timestamp", "1700000000"}}, R"({"a":1})",
                                    at(1700000400)),
                           "s3cret", timed).verdict,
            Verdict::stale);
  EXPECT_EQ(verify_generic(incoming({{"X-Signature", hex_mac}, {"X-Timestamp", "1700000001"}}, R"({"a":1})"), "s3cret",
                           timed).verdict,
            Verdict::bad_signature);
  EXPECT_EQ(verify_generic(incoming({{"X-Signature", hex_mac}}, R"({"a":1})"), "s3cret", timed).verdict,
            Verdict::malformed);
  // printf '%s' '{"a":1}' | openssl dgst -sha512 -hmac s3cret -binary | base64 -w0
  GenericScheme plain{"X-Hub-Signature", true, "", 300s};
  EXPECT_TRUE(verify_generic(incoming({{"X-Hub-Signature",
                                        "I1Qv0L6gxoCH22LEFPgKZxvjZyCqCriiJUhPzncmGuC66PnNI+TUtkVA8CUaCu8vWFlUrDKItuPK8LbnKjH4Yg=="}},
                                      R"({"a":1})"),
                             "s3cret", plain).ok());
}

TEST(SnapWebhook, RejectsWhatCannotBeVerifiedBeforeTouchingTheKey) {
  // A valid RSA signature is checked end to end against the sandbox's notifications
  // (integration); here: missing headers, bad base64, bad timestamp, non-JSON body.
  const std::string body = R"({"originalPartnerReferenceNo":"x"})";
  EXPECT_EQ(verify_snap(incoming({}, body), "key", 5min).verdict, Verdict::malformed);
  EXPECT_EQ(verify_snap(incoming({{"X-TIMESTAMP", "yesterday"}, {"X-SIGNATURE", "AAAA"}}, body), "key", 5min).verdict,
            Verdict::malformed);
  EXPECT_EQ(verify_snap(incoming({{"X-TIMESTAMP", "2023-11-14T22:13:20+00:00"}, {"X-SIGNATURE", "@@@"}}, body), "key",
                        5min).verdict,
            Verdict::malformed);
  EXPECT_EQ(verify_snap(incoming({{"X-TIMESTAMP", "2023-11-14T22:13:20+00:00"}, {"X-SIGNATURE", "AAAA"}}, "not json"),
                        "key", 5min).verdict,
            Verdict::malformed);
  EXPECT_EQ(verify_snap(incoming({{"X-TIMESTAMP", "2023-11-14T22:13:20+00:00"}, {"X-SIGNATURE", "AAAA"}}, body),
                        "not a key", 5min).verdict,
            Verdict::bad_signature);
}

}  // namespace
}  // namespace topupd::adapters::webhooks
