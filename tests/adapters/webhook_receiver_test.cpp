// The webhook receiver's decisions without sockets: allow-lists and X-Forwarded-For,
// routes, content types, signatures, event identities and the answers senders expect.
#include <gtest/gtest.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/webhooks/receiver.hpp"
#include "topupd/core/ip_network.hpp"

namespace topupd::adapters::webhooks {
namespace {

using namespace std::chrono_literals;

core::Cidr cidr(const char* text) { return *core::parse_cidr(text).value; }
core::IpAddress ip(const char* text) { return *core::parse_ip(text); }

TEST(IpNetwork, MatchesIpv4Ipv6AndMappedAddresses) {
  EXPECT_TRUE(cidr("203.0.113.0/24").contains(ip("203.0.113.77")));
  EXPECT_FALSE(cidr("203.0.113.0/24").contains(ip("203.0.114.1")));
  EXPECT_TRUE(cidr("203.0.113.0/24").contains(ip("::ffff:203.0.113.9")));  // a dual-stack socket's view
  EXPECT_TRUE(cidr("2001:db8::/32").contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(cidr("2001:db8::/32").contains(ip("2001:db9::1")));
  EXPECT_FALSE(cidr("2001:db8::/32").contains(ip("203.0.113.1")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("198.51.100.1")));
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(cidr("10.1.2.3").contains(ip("10.1.2.3")));  // a bare address is one host
  EXPECT_FALSE(cidr("10.1.2.3").contains(ip("10.1.2.4")));
  EXPECT_TRUE(cidr("10.0.0.0/9").contains(ip("10.127.255.255")));
  EXPECT_FALSE(cidr("10.0.0.0/9").contains(ip("10.128.0.0")));
}

TEST(IpNetwork, RefusesTyposWithAReason) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "example.com", "10.0.0.0/",
                          "10.0.0.0/x", ""}) {
    const auto parsed = core::parse_cidr(bad);
    EXPECT_FALSE(parsed.value) << bad;
    EXPECT_FALSE(parsed.error.empty()) << bad;
  }
  EXPECT_NE(core::parse_cidr("10.0.0.1/8").error.find("host bits"), std::string::npos);
}

TEST(IpNetwork, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  const std::vector<core::Cidr> proxies = {cidr("10.0.0.0/8")};
  // Not from a proxy: the header is whatever the client wrote, so it is ignored.
  EXPECT_EQ(*core::client_address(ip("198.51.100.7"), "203.0.113.5", proxies), ip("198.51.100.7"));
  // From a proxy: the rightmost address that is not a proxy is the client.
  EXPECT_EQ(*core::client_address(ip("10.0.0.2"), "203.0.113.5", proxies), ip("203.0.113.5"));
  EXPECT_EQ(*core::client_address(ip("10.0.0.2"), "1.2.3.4, 203.0.113.5, 10.0.0.9", proxies), ip("203.0.113.5"));
  EXPECT_EQ(*core::client_address(ip("10.0.0.2"), std::nullopt, proxies), ip("10.0.0.2"));
  EXPECT_FALSE(core::client_address(ip("10.0.0.2"), "not-an-address", proxies));
  EXPECT_EQ(*core::client_address(ip("10.0.0.2"), "203.0.113.5", {}), ip("10.0.0.2"));
}

constexpr const char* kSecret = "whsec_receiver";
const core::Timestamp kNow{std::chrono::seconds(1'800'000'000)};

struct Fixture {
  Routes routes;
  Fixture() {
    Endpoint stripe;
    stripe.provider = "stripe";
    stripe.type = config::ProviderType::stripe;
    stripe.secret = kSecret;
    routes.endpoints.push_back(stripe);
    Endpoint flip;
    flip.provider = "flip";
    flip.type = config::ProviderType::flip;
    flip.secret = "flip-token";
    flip.allow_from = {cidr("192.0.2.0/24")};
    routes.endpoints.push_back(flip);
    Endpoint generic;
    generic.provider = "bank";
    generic.type = config::ProviderType::generic_http;
    generic.secret = "generic-secret";
    generic.event_id_pointer = "/event/id";
    routes.endpoints.push_back(generic);
    routes.allow_from = {cidr("127.0.0.0/8"), cidr("192.0.2.0/24"), cidr("10.0.0.0/8")};
    routes.trusted_proxies = {cidr("10.0.0.0/8")};
  }
};

std::string stripe_body(const std::string& id = "evt_1", const std::string& status = "succeeded") {
  return R"({"id":")" + id + R"(","object":"event","type":"topup.)" + status +
         R"(","data":{"object":{"id":"tu_9","object":"topup","status":")" + status +
         R"(","metadata":{"topupd_key":"tu:payout-low:1"}}},"request":{"idempotency_key":"other"}})";
}

net::ServerRequest stripe_request(const std::string& body, long long signed_at = 1'800'000'000,
                                  const std::string& secret = kSecret) {
  net::ServerRequest r;
  r.method = "POST";
  r.path = r.target = "/webhooks/stripe";
  r.remote_address = "127.0.0.1";
  r.body = body;
  const std::string t = std::to_string(signed_at);
  r.headers = {{"Content-Type", "application/json; charset=utf-8"},
               {"Stripe-Signature", "t=" + t + ",v1=" + crypto::hex(crypto::hmac_sha256(secret, t + "." + body))}};
  return r;
}

TEST(WebhookReceiver, AcceptsAGenuineStripeEventAndReadsWhichTopUpItIsAbout) {
  Fixture f;
  const auto d = check_delivery(f.routes, stripe_request(stripe_body()), kNow);
  ASSERT_EQ(d.outcome, Outcome::accepted) << d.detail;
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.endpoint->provider, "stripe");
  EXPECT_EQ(d.event.id, "evt_1");
  EXPECT_EQ(d.event.type, "topup.succeeded");
  EXPECT_EQ(d.event.reference, "tu_9");
  EXPECT_EQ(d.event.key, "tu:payout-low:1");  // metadata wins over the request's key
  EXPECT_EQ(d.event.status, "succeeded");
  EXPECT_EQ(answer(d).body, R"({"received":true})");
  EXPECT_EQ(check_delivery(f.routes, stripe_request(stripe_body("evt_2", "canceled")), kNow).event.status, "failed");
}

TEST(WebhookReceiver, ReadsTheConnectedAccountAStripeEventNames) {
  Fixture f;
  const std::string body =
      R"({"id":"evt_3","object":"event","account":"acct_payouts","type":"balance.available",)"
      R"("data":{"object":{"object":"balance","available":[{"amount":9900,"currency":"usd"}]}}})";
  const auto d = check_delivery(f.routes, stripe_request(body), kNow);
  ASSERT_EQ(d.outcome, Outcome::accepted) << d.detail;
  EXPECT_EQ(d.event.account, "acct_payouts");
  EXPECT_EQ(d.event.key, "");
  EXPECT_EQ(d.event.status, "");  // not about a top-up
  EXPECT_EQ(check_delivery(f.routes, stripe_request(stripe_body()), kNow).event.account, "");
}

TEST(WebhookReceiver, RefusesEachBadRequestWithItsOwnOutcomeAndStatus) {
  Fixture f;
  struct Case {
    const char* what;
    net::ServerRequest request;
    Outcome outcome;
    int status;
  };
  std::vector<Case> cases;
  auto forged = stripe_request(stripe_body(), 1'800'000'000, "whsec_guess");
  cases.push_back({"forged with another secret", forged, Outcome::bad_signature, 401});
  auto tampered = stripe_request(stripe_body());
  tampered.body = stripe_body("evt_1", "failed");
  cases.push_back({"body changed after signing", tampered, Outcome::bad_signature, 401});
  cases.push_back({"replayed after the tolerance", stripe_request(stripe_body(), 1'800'000'000 - 301), Outcome::stale, 401});
  auto unsigned_request = stripe_request(stripe_body());
  unsigned_request.headers.pop_back();
  cases.push_back({"no signature header", unsigned_request, Outcome::malformed, 400});
  auto outsider = stripe_request(stripe_body());
  outsider.remote_address = "198.51.100.7";
  cases.push_back({"client outside webhooks.allow_from", outsider, Outcome::forbidden_ip, 403});
  auto spoofed = outsider;
  spoofed.headers.emplace_back("X-Forwarded-For", "127.0.0.1");
  cases.push_back({"X-Forwarded-For from a client that is not a proxy", spoofed, Outcome::forbidden_ip, 403});
  auto proxied = stripe_request(stripe_body());
  proxied.remote_address = "10.0.0.2";
  proxied.headers.emplace_back("X-Forwarded-For", "198.51.100.7");
  cases.push_back({"a trusted proxy forwarding an outsider", proxied, Outcome::forbidden_ip, 403});
  auto wrong_type = stripe_request(stripe_body());
  wrong_type.headers[0].second = "text/plain";
  cases.push_back({"wrong content type", wrong_type, Outcome::malformed, 415});
  auto get = stripe_request(stripe_body());
  get.method = "GET";
  cases.push_back({"GET", get, Outcome::malformed, 400});
  cases.push_back({"signed body without an event id", stripe_request(R"({"object":"event"})"), Outcome::malformed, 400});
  cases.push_back({"signed body that is not JSON", stripe_request("not json"), Outcome::malformed, 400});
  auto unknown = stripe_request(stripe_body());
  unknown.path = "/webhooks/nobody";
  cases.push_back({"no such provider", unknown, Outcome::not_found, 404});
  for (const auto& c : cases) {
    const auto d = check_delivery(f.routes, c.request, kNow);
    EXPECT_EQ(d.outcome, c.outcome) << c.what << ": " << d.detail;
    EXPECT_EQ(d.status, c.status) << c.what;
    EXPECT_EQ(answer(d).status, c.status) << c.what;
    EXPECT_EQ(answer(d).body.find(kSecret), std::string::npos) << c.what;
    EXPECT_TRUE(d.event.id.empty()) << c.what;
  }
  // A trusted proxy forwarding an allowed client is fine.
  auto proxied_ok = stripe_request(stripe_body());
  proxied_ok.remote_address = "10.0.0.2";
  proxied_ok.headers.emplace_back("X-Forwarded-For", "192.0.2.10");
  EXPECT_EQ(check_delivery(f.routes, proxied_ok, kNow).outcome, Outcome::accepted);
}

TEST(WebhookReceiver, AProviderAllowListNarrowsTheGlobalOne) {
  Fixture f;
  net::ServerRequest r;
  r.method = "POST";
  r.path = "/webhooks/flip";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  r.body = "data=" + net::url_encode(R"({"id":1234,"status":"DONE","amount":10000})") + "&token=flip-token";
  r.remote_address = "127.0.0.1";  // allowed globally, not by flip's own list
  EXPECT_EQ(check_delivery(f.routes, r, kNow).outcome, Outcome::forbidden_ip);
  r.remote_address = "192.0.2.44";
  const auto d = check_delivery(f.routes, r, kNow);
  ASSERT_EQ(d.outcome, Outcome::accepted) << d.detail;
  EXPECT_EQ(d.event.id, "flip:1234:DONE");
  r.headers[0].second = "application/json";
  EXPECT_EQ(check_delivery(f.routes, r, kNow).status, 415);
}

TEST(WebhookReceiver, GenericEventsAreIdentifiedByTheirPointerOrRefused) {
  Fixture f;
  net::ServerRequest r;
  r.method = "POST";
  r.path = "/webhooks/bank";
  r.remote_address = "127.0.0.1";
  r.headers = {{"Content-Type", "application/json"}};
  auto sign = [&](const std::string& body) {
    r.body = body;
    r.headers.resize(1);
    r.headers.emplace_back("X-Signature", crypto::hex(crypto::hmac_sha512("generic-secret", body)));
    return check_delivery(f.routes, r, kNow);
  };
  EXPECT_EQ(sign(R"({"event":{"id":"e-77"}})").event.id, "e-77");
  EXPECT_EQ(sign(R"({"event":{}})").outcome, Outcome::malformed);
}

TEST(WebhookReceiver, SnapNotificationsOnTheStandardPathGetSnapAnswers) {
  Routes routes;
  Endpoint snap;
  snap.provider = "bank";
  snap.type = config::ProviderType::snap;
  snap.secret = "not a key";  // no signature can verify
  routes.endpoints.push_back(snap);
  routes.snap_prefix = "/snap";
  net::ServerRequest r;
  r.method = "POST";
  r.path = "/snap/v1.0/debit/notify";
  r.remote_address = "::1";
  r.headers = {{"Content-Type", "application/json"},
               {"X-TIMESTAMP", "2027-01-15T10:00:00+07:00"},
               {"X-SIGNATURE", "c2lnbmF0dXJl"}};
  r.body = R"({"originalPartnerReferenceNo":"p1","latestTransactionStatus":"00"})";
  const auto d = check_delivery(routes, r, kNow);
  EXPECT_EQ(d.outcome, Outcome::bad_signature);
  EXPECT_EQ(answer(d).status, 401);
  EXPECT_EQ(answer(d).body, R"({"responseCode":"4015600","responseMessage":"Unauthorized. [Signature]"})");
  Delivery ok = d;
  ok.outcome = Outcome::accepted;
  ok.status = 200;
  EXPECT_EQ(answer(duplicate_of(ok)).body, R"({"responseCode":"2005600","responseMessage":"Successful"})");
  EXPECT_EQ(too_large(routes, "/snap/v1.0/debit/notify").status, 413);
  EXPECT_EQ(too_large(routes, "/v1.0/debit/notify").endpoint, nullptr);  // without the prefix: not ours
}

TEST(WebhookReceiver, SnapEventsMapTransactionStatusCodes) {
  Endpoint snap;
  snap.type = config::ProviderType::snap;
  std::string why;
  auto event = [&](const std::string& body) {
    return parse_event(snap, Incoming{"POST", "/", {}, body, kNow}, why);
  };
  auto ok = event(R"({"originalPartnerReferenceNo":"p1","originalReferenceNo":"r1","latestTransactionStatus":"00"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, "succeeded");
  EXPECT_EQ(ok->partner_reference, "p1");
  EXPECT_EQ(ok->id, "p1:r1:00");
  EXPECT_EQ(event(R"({"originalPartnerReferenceNo":"p1","latestTransactionStatus":"06"})")->status, "failed");
  EXPECT_EQ(event(R"({"originalPartnerReferenceNo":"p1","latestTransactionStatus":"03"})")->status, "pending");
  EXPECT_FALSE(event(R"({"latestTransactionStatus":"00"})"));
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace topupd::adapters::webhooks

namespace topupd::adapters::webhooks {
namespace {

// Xendit's callbacks to /webhooks/xendit with the token `token`.
struct XenditCallbacks {
  Routes routes;
  net::ServerRequest r;
  XenditCallbacks() {
    Endpoint xendit;
    xendit.provider = "xendit";
    xendit.type = config::ProviderType::xendit;
    xendit.secret = "callback-token";
    routes.endpoints.push_back(xendit);
    routes.allow_from = {cidr("127.0.0.0/8")};
    r.method = "POST";
    r.path = r.target = "/webhooks/xendit";
    r.remote_address = "127.0.0.1";
  }
  Delivery deliver(const std::string& body, const std::string& token = "callback-token") {
    r.headers = {{"Content-Type", "application/json"}, {"x-callback-token", token}};
    r.body = body;
    return check_delivery(routes, r, kNow);
  }
};

TEST(WebhookReceiver, XenditPayoutCallbacksNameTheTopUpAndEachStatusIsItsOwnEvent) {
  XenditCallbacks x;
  const auto deliver = [&](const std::string& event, const std::string& status, const std::string& token) {
    return x.deliver(R"({"event":")" + event + R"(","business_id":"b","created":"2026-11-30T00:00:00Z","data":)"
                     R"({"id":"disb-1","reference_id":"topupd-flip-low-1","status":")" + status +
                         R"(","amount":60000000}})",
                     token);
  };
  const auto succeeded = deliver("payout.succeeded", "SUCCEEDED", "callback-token");
  ASSERT_EQ(succeeded.outcome, Outcome::accepted) << succeeded.detail;
  EXPECT_EQ(succeeded.event.type, "payout.succeeded");
  EXPECT_EQ(succeeded.event.key, "topupd-flip-low-1");
  EXPECT_EQ(succeeded.event.reference, "disb-1");
  EXPECT_EQ(succeeded.event.status, "succeeded");
  const auto reversed = deliver("payout.reversed", "REVERSED", "callback-token");
  EXPECT_EQ(reversed.event.status, "reversed");
  EXPECT_NE(reversed.event.id, succeeded.event.id);  // a later status is news, not a repeat
  EXPECT_EQ(deliver("payout.succeeded", "SUCCEEDED", "callback-token").event.id, succeeded.event.id);
  EXPECT_EQ(deliver("payout.succeeded", "SUCCEEDED", "guessed").outcome, Outcome::bad_signature);
  EXPECT_EQ(x.deliver(R"({"event":"payout.failed","data":{"reference_id":"k","status":"FAILED"}})").outcome,
            Outcome::malformed);  // no payout id: nothing to look up
}

TEST(WebhookReceiver, XenditQrPaymentsNameTheTicketTheirPaymentAndWhatWasPaid) {
  XenditCallbacks x;
  const auto deliver = [&](const std::string& status) {
    return x.deliver(R"({"event":"qr.payment","api_version":"2022-07-31","data":{"id":"qrpy_9","qr_id":"qr_1",)"
                     R"("reference_id":"topupd-k-1","amount":1500000,"status":")" + status + R"("}})");
  };
  const auto paid = deliver("SUCCEEDED");
  ASSERT_EQ(paid.outcome, Outcome::accepted) << paid.detail;
  EXPECT_EQ(paid.event.id, "qrpy:qrpy_9");
  EXPECT_EQ(paid.event.key, "topupd-k-1");
  EXPECT_EQ(paid.event.reference, "qr_1");
  EXPECT_EQ(paid.event.payment, "qrpy_9");
  EXPECT_EQ(paid.event.paid, "1500000");
  EXPECT_EQ(paid.event.status, "paid");
  EXPECT_EQ(deliver("COMPLETED").event.payment, "qrpy_9");
  const auto other = deliver("FAILED");
  EXPECT_EQ(other.event.payment, "") << "only a paid code names a payment to look up";
  EXPECT_EQ(other.event.paid, "");
}

}  // namespace
}  // namespace topupd::adapters::webhooks
