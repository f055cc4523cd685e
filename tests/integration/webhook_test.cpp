// The webhook receiver of the real daemon over HTTP: bad deliveries are refused with
// the right status and change nothing in the store; a redelivery is processed once;
// signatures made by the official stripe library are accepted; webhooks sent by the
// stand-alone sandbox settle a top-up end to end. The SQLite file is the witness.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <csignal>
#include <ctime>
#include <thread>

#include "integration/harness.hpp"
#include "integration/sandbox.hpp"
#include "topupd/adapters/crypto/crypto.hpp"

namespace topupd::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kSecret = "whsec_receiver_test";

// Every row the daemon keeps, as one string: equal before and after means nothing changed.
std::string store_dump(const std::string& db_path) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "unreadable";
  }
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql : {"SELECT key || state || reference FROM top_ups ORDER BY key",
                          "SELECT key || sequence || to_state || note FROM top_up_transitions ORDER BY key, sequence",
                          "SELECT provider || event_id FROM webhook_events ORDER BY provider, event_id",
                          "SELECT rule || phase FROM rule_states ORDER BY rule",
                          "SELECT name || value FROM settings ORDER BY name"}) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &statement, nullptr);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(statement, 0);
      out += text ? reinterpret_cast<const char*>(text) : "";
      out += "\n";
    }
    sqlite3_finalize(statement);
    out += "--\n";
  }
  sqlite3_close(db);
  return out;
}

std::int64_t count_rows(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW) {
      n = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return n;
}

std::string stripe_event(const std::string& id) {
  return R"({"id":")" + id + R"(","object":"event","type":"balance.available","data":{"object":{"object":"balance"}}})";
}

Headers stripe_headers(const std::string& body, long long signed_at, const std::string& secret = kSecret) {
  const std::string t = std::to_string(signed_at);
  return {{"Content-Type", "application/json"},
          {"Stripe-Signature", "t=" + t + ",v1=" + adapters::crypto::hex(adapters::crypto::hmac_sha256(secret, t + "." + body))}};
}

long long now_unix() { return static_cast<long long>(std::time(nullptr)); }

std::string daemon_config(const std::string& db, const std::string& sandbox_url, const std::string& webhooks,
                          const std::string& rules = "") {
  return fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
store: {{sqlite: "{}"}}
webhooks: {}
providers:
  stripe:
    type: stripe
    base_url: {}
    api_key: sk_test_contract
    webhook: {{secret: {}}}
  xendit:
    type: xendit
    base_url: {}
    api_key: xnd_development_contract
    webhook: {{callback_token: xendit-token, allow_from: [192.0.2.0/24]}}
accounts:
  payouts: {{provider: stripe, id: acct_payouts, currency: USD, poll: {{every: 1h, timeout: 2s}}}}
{})",
                     db, webhooks, sandbox_url, kSecret, sandbox_url, rules);
}

const char* kSandbox = R"(
gateways:
  stripe:
    secret_key: sk_test_contract
    webhook_secret: whsec_receiver_test
    settle_after: 1s
    accounts:
      acct_payouts: {balance: USD 1_234.56}
  xendit:
    secret_key: xnd_development_contract
    accounts:
      master: {balance: IDR 50_000_000}
)";

// The sandbox above, announcing settled Stripe top-ups to a receiver on `port`.
std::string sandbox_posting_to(int port) {
  std::string yaml = kSandbox;
  const std::string anchor = "    webhook_secret: whsec_receiver_test\n";
  yaml.insert(yaml.find(anchor) + anchor.size(), fmt::format("    webhook_url: http://127.0.0.1:{}/webhooks/stripe\n", port));
  return yaml;
}

// Exactly one top-up in `db` succeeded, and it was looked up because a webhook whose
// event id matches `event_like` (an SQL LIKE pattern) arrived.
void expect_one_top_up_settled_by_webhook(const std::string& db, Daemon& daemon, const Sandbox& sandbox,
                                          const std::string& event_like) {
  ASSERT_TRUE(eventually([&] {
    return count_rows(db, "SELECT COUNT(*) FROM top_ups WHERE state = 'succeeded'") == 1;
  }, std::chrono::seconds(15))) << daemon.log() << sandbox.log();
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM top_up_transitions WHERE to_state = 'succeeded' "
                           "AND note LIKE 'looked up after webhook " + event_like + "'"),
            1)
      << store_dump(db);
}

// Tops the payouts account (USD 1,234.56 in the sandbox) up once, at the first poll.
const char* kRefillRule = R"(
rules:
  - name: refill
    account: payouts
    when: {below: USD 2_000}
    top_up: {method: direct_debit, amount: {to_target: USD 3_000}}
)";

TEST(WebhookReceiver, BadDeliveriesAreRefusedAndLeaveTheStoreAsItWas) {
  Sandbox sandbox(kSandbox);
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  Daemon daemon(daemon_config(db, sandbox.url(),
                              R"({listen: "127.0.0.1:0", allow_from: [127.0.0.0/8], max_body: 4KiB, timeout: 1s})"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_GT(daemon.webhook_port(), 0);
  const int port = daemon.webhook_port();
  const std::string before = store_dump(db);

  const std::string body = stripe_event("evt_bad");
  const long long now = now_unix();
  struct Case {
    const char* what;
    std::string path;
    std::string body;
    Headers headers;
    int status;
    const char* outcome;
  };
  Headers wrong_type = stripe_headers(body, now);
  wrong_type[0].second = "text/plain";
  Headers malformed_header = {{"Content-Type", "application/json"}, {"Stripe-Signature", "v1,t=1"}};
  const std::string not_json = "{\"id\":";
  const std::string oversized = R"({"id":"evt_big","pad":")" + std::string(8 * 1024, 'x') + "\"}";
  const std::vector<Case> cases = {
      {"forged (another secret)", "/webhooks/stripe", body, stripe_headers(body, now, "whsec_guess"), 401, "bad_signature"},
      {"tampered body", "/webhooks/stripe", stripe_event("evt_other"), stripe_headers(body, now), 401, "bad_signature"},
      {"replayed after the tolerance", "/webhooks/stripe", body, stripe_headers(body, now - 600), 401, "stale"},
      {"signed in the future", "/webhooks/stripe", body, stripe_headers(body, now + 600), 401, "stale"},
      {"wrong content type", "/webhooks/stripe", body, wrong_type, 415, "malformed"},
      {"malformed signature header", "/webhooks/stripe", body, malformed_header, 400, "malformed"},
      {"signed but not JSON", "/webhooks/stripe", not_json, stripe_headers(not_json, now), 400, "malformed"},
      {"oversized", "/webhooks/stripe", oversized, stripe_headers(oversized, now), 413, "too_large"},
      {"client outside the provider's allow_from", "/webhooks/xendit", R"({"id":"x1"})",
       {{"Content-Type", "application/json"}, {"x-callback-token", "xendit-token"}}, 403, "forbidden_ip"},
      {"unknown provider", "/webhooks/nobody", body, stripe_headers(body, now), 404, "not_found"},
  };
  for (const auto& c : cases) {
    const auto result = http_request("POST", "127.0.0.1", port, c.path, c.body, c.headers);
    EXPECT_EQ(result.status, c.status) << c.what << ": " << result.body;
    EXPECT_NE(result.body.find(c.outcome), std::string::npos) << c.what << ": " << result.body;
  }
  // A slow client that never finishes its headers is cut off after webhooks.timeout.
  const auto started = std::chrono::steady_clock::now();
  const auto slow = http_send("127.0.0.1", port, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Le");
  EXPECT_EQ(slow.status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
  // A chunked body that grows past max_body is cut off the same way as an announced one.
  const std::string chunk(8 * 1024, 'x');
  const auto chunked = http_send("127.0.0.1", port,
                                 "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n2000\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 413) << chunked.body;
  // Garbage instead of HTTP.
  EXPECT_EQ(http_send("127.0.0.1", port, "\x16\x03\x01 not http\r\n\r\n").status, 0);

  EXPECT_EQ(store_dump(db), before) << "a refused delivery changed the store";
  const std::string metrics = daemon.metrics();
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"stripe", "bad_signature"}), 2);
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"stripe", "\"stale\""}), 2);
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"stripe", "\"malformed\""}), 3);
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"stripe", "too_large"}), 2);
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"xendit", "forbidden_ip"}), 1);
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"\"-\"", "not_found"}), 1);
  // Counters of the configured endpoints are there from the start; none counted an acceptance.
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"stripe", "\"accepted\""}), 0);
  EXPECT_EQ(sample(metrics, "topupd_webhooks_total", {"xendit", "\"accepted\""}), 0);
  EXPECT_EQ(daemon.get("/healthz").status, 200);
  EXPECT_EQ(daemon.log().find(kSecret), std::string::npos) << "the signing secret must never be logged";
}

TEST(WebhookReceiver, ARedeliveryIsAcknowledgedAndProcessedOnce) {
  Sandbox sandbox(kSandbox);
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  Daemon daemon(daemon_config(db, sandbox.url(), R"({listen: "127.0.0.1:0"})"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const std::string body = stripe_event("evt_once");
  const auto headers = stripe_headers(body, now_unix());
  const auto first = http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/stripe", body, headers);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM webhook_events WHERE event_id = 'evt_once'"), 1);
  const std::string after_first = store_dump(db);
  for (int i = 0; i < 3; ++i) {
    const auto again = http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/stripe", body, headers);
    EXPECT_EQ(again.status, 200) << again.body;  // acknowledged, so the gateway stops sending it
  }
  EXPECT_EQ(store_dump(db), after_first);
  EXPECT_EQ(daemon.metric("topupd_webhooks_total", {"stripe", "\"accepted\""}), 1);
  EXPECT_EQ(daemon.metric("topupd_webhooks_total", {"stripe", "duplicate"}), 3);
  // The accepted event polled the account at once (its interval is an hour).
  EXPECT_TRUE(eventually([&] { return daemon.log().find("polling=payouts") != std::string::npos; },
                         std::chrono::seconds(5)));
}

TEST(WebhookReceiver, AcceptsHeadersMadeByTheOfficialStripeLibrary) {
  Sandbox sandbox(kSandbox);
  TempDir dir;
  Daemon daemon(daemon_config(dir.file("topupd.db"), sandbox.url(), R"({listen: "127.0.0.1:0"})"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const std::string body = stripe_event("evt_from_stripe_node");
  dir.write("event.json", body);
  const auto signed_by_node = run_command({TOPUPD_NODE, TOPUPD_SOURCE_DIR "/tests/integration/peers/stripe_peer.js",
                                           "sign", dir.file("event.json"), kSecret, std::to_string(now_unix())});
  ASSERT_EQ(signed_by_node.status, 0) << signed_by_node.output;
  std::string header = signed_by_node.output;
  while (!header.empty() && (header.back() == '\n' || header.back() == '\r')) header.pop_back();
  ASSERT_EQ(header.rfind("t=", 0), 0u) << header;
  const auto result = http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/stripe", body,
                                   {{"Content-Type", "application/json"}, {"Stripe-Signature", header}});
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(daemon.metric("topupd_webhooks_total", {"stripe", "\"accepted\""}), 1);
}

TEST(WebhookReceiver, SandboxWebhooksSettleATopUpLongBeforeTheNextPoll) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_posting_to(webhook_port));
  ASSERT_EQ(sandbox.post("/_sandbox/faults", R"({"provider":"stripe","duplicate_webhooks":true})").status, 200);
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  // Polled once an hour: only the webhook can bring the top-up's outcome in time.
  Daemon daemon(daemon_config(db, sandbox.url(), fmt::format(R"({{listen: "127.0.0.1:{}"}})", webhook_port), kRefillRule));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_EQ(daemon.webhook_port(), webhook_port);
  expect_one_top_up_settled_by_webhook(db, daemon, sandbox, "evt_%");
  if (HasFatalFailure()) return;
  // The sandbox sent the event twice; it was processed once.
  ASSERT_TRUE(eventually([&] {
    return daemon.metric("topupd_webhooks_total", {"stripe", "duplicate"}).value_or(0) >= 1;
  }, std::chrono::seconds(10))) << daemon.log();
  EXPECT_EQ(daemon.metric("topupd_webhooks_total", {"stripe", "\"accepted\""}), 1);
  // The money moved once: one ledger entry, the balance polled right after the webhook.
  EXPECT_EQ(ledger_keys(sandbox.get("/_sandbox/ledger").body).size(), 1u);
  EXPECT_TRUE(eventually([&] { return daemon.metric("topupd_balance", {"payouts"}) == 300000; },
                         std::chrono::seconds(5)))
      << daemon.metrics();
}

TEST(WebhookReceiver, ABalanceEventPollsOnlyTheAccountItNames) {
  const int webhook_port = free_port();
  std::string yaml = sandbox_posting_to(webhook_port);
  const std::string anchor = "      acct_payouts: {balance: USD 1_234.56}\n";
  yaml.insert(yaml.find(anchor) + anchor.size(), "      acct_reserve: {balance: USD 500}\n");
  Sandbox sandbox(yaml);
  TempDir dir;
  // Both polled once an hour: only the webhook can bring the new balance in time.
  Daemon daemon(daemon_config(dir.file("topupd.db"), sandbox.url(),
                              fmt::format(R"({{listen: "127.0.0.1:{}"}})", webhook_port),
                              "  reserve: {provider: stripe, id: acct_reserve, currency: USD, poll: {every: 1h}}\n"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] {
    return daemon.metric("topupd_balance", {"payouts"}) == 123456 && daemon.metric("topupd_balance", {"reserve"}) == 50000;
  }, std::chrono::seconds(5))) << daemon.metrics();
  const auto reserve_polled_at = daemon.metric("topupd_last_successful_poll_timestamp_seconds", {"reserve"});
  ASSERT_TRUE(reserve_polled_at) << daemon.metrics();
  // A payout run empties the account; the sandbox announces it as Stripe does, with
  // a balance.available event that names the connected account.
  ASSERT_EQ(sandbox.post("/_sandbox/accounts/acct_payouts", R"({"balance":"USD 99"})").status, 200);
  EXPECT_TRUE(eventually([&] { return daemon.metric("topupd_balance", {"payouts"}) == 9900; },
                         std::chrono::seconds(5)))
      << daemon.log() << sandbox.log();
  EXPECT_EQ(daemon.metric("topupd_webhooks_total", {"stripe", "\"accepted\""}), 1);
  EXPECT_NE(daemon.log().find("type=balance.available topup=- status=- polling=payouts\n"), std::string::npos)
      << daemon.log();
  // The other account was not polled again.
  EXPECT_EQ(daemon.metric("topupd_last_successful_poll_timestamp_seconds", {"reserve"}), reserve_polled_at)
      << daemon.metrics();
}

TEST(WebhookReceiver, AnEventNamingNoAccountPollsEachOfTheProvidersAccountsOnceAndTheLogNamesTen) {
  // Twelve accounts at Stripe (payouts and eleven more), one at Xendit's sandbox as well.
  std::string yaml = kSandbox;
  std::string accounts;
  const std::string anchor = "      acct_payouts: {balance: USD 1_234.56}\n";
  for (int i = 1; i <= 11; ++i) {
    yaml.insert(yaml.find(anchor) + anchor.size(), fmt::format("      acct_more{}: {{balance: USD {}}}\n", i, i));
    accounts += fmt::format("  more{:02}: {{provider: stripe, id: acct_more{}, currency: USD, poll: {{every: 1h}}}}\n", i, i);
  }
  accounts += "  master: {provider: xendit, id: master, currency: IDR, poll: {every: 1h}}\n";
  Sandbox sandbox(yaml);
  TempDir dir;
  Daemon daemon(daemon_config(dir.file("topupd.db"), sandbox.url(), R"({listen: "127.0.0.1:0"})", accounts));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto polls = [&](const std::string& provider) {
    return daemon.metric("topupd_poll_duration_seconds_count", {provider}).value_or(0);
  };
  // Polled once an hour: each has had its first poll, and only the webhook brings more.
  ASSERT_TRUE(eventually([&] { return polls("stripe") == 12 && polls("xendit") == 1; }, std::chrono::seconds(10)))
      << daemon.metrics();
  const std::string body = stripe_event("evt_platform");
  const auto result = http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/stripe", body,
                                   stripe_headers(body, now_unix()));
  ASSERT_EQ(result.status, 200) << result.body;
  EXPECT_TRUE(eventually([&] { return polls("stripe") == 24; }, std::chrono::seconds(10))) << daemon.metrics();
  EXPECT_NE(daemon.log().find("type=balance.available topup=- status=- polling=\"more01,more02,more03,more04,more05,"
                              "more06,more07,more08,more09,more10 and 2 more\"\n"),
            std::string::npos)
      << daemon.log();
  // Nothing more: every Stripe account polled once, Xendit's not at all.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(polls("stripe"), 24);
  EXPECT_EQ(polls("xendit"), 1);
}

TEST(WebhookReceiver, AnAccountAddedByAReloadIsPolledWhenAnEventNamesIt) {
  std::string yaml = kSandbox;
  const std::string anchor = "      acct_payouts: {balance: USD 1_234.56}\n";
  yaml.insert(yaml.find(anchor) + anchor.size(), "      acct_reserve: {balance: USD 500}\n");
  Sandbox sandbox(yaml);
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  Daemon daemon(daemon_config(db, sandbox.url(), R"({listen: "127.0.0.1:0"})"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto polls = [&] { return daemon.metric("topupd_poll_duration_seconds_count", {"stripe"}).value_or(0); };
  ASSERT_TRUE(eventually([&] { return polls() == 1; }, std::chrono::seconds(10))) << daemon.metrics();
  // Connect events, each naming its connected account.
  const auto deliver = [&](const std::string& id, const std::string& account) {
    const std::string body = R"({"id":")" + id + R"(","object":"event","account":")" + account +
                             R"(","type":"balance.available","data":{"object":{"object":"balance"}}})";
    return http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/stripe", body,
                        stripe_headers(body, now_unix()))
        .status;
  };
  daemon.rewrite_config(daemon_config(db, sandbox.url(), R"({listen: "127.0.0.1:0"})",
                                      "  reserve: {provider: stripe, id: acct_reserve, currency: USD, poll: {every: 1h}}\n"));
  daemon.process().signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return daemon.log().find("configuration reloaded") != std::string::npos; },
                         std::chrono::seconds(5)));
  // A reload starts every account's loop with a poll: both are polled once.
  ASSERT_TRUE(eventually([&] { return polls() == 3; }, std::chrono::seconds(10))) << daemon.metrics();
  ASSERT_EQ(deliver("evt_reserve", "acct_reserve"), 200);
  EXPECT_TRUE(eventually([&] { return polls() == 4; }, std::chrono::seconds(10))) << daemon.metrics();
  EXPECT_NE(daemon.log().find("event=evt_reserve type=balance.available topup=- status=- polling=reserve\n"),
            std::string::npos)
      << daemon.log();
  ASSERT_EQ(deliver("evt_payouts", "acct_payouts"), 200);
  EXPECT_TRUE(eventually([&] { return polls() == 5; }, std::chrono::seconds(10))) << daemon.metrics();
  EXPECT_NE(daemon.log().find("event=evt_payouts type=balance.available topup=- status=- polling=payouts\n"),
            std::string::npos)
      << daemon.log();
  // One poll each, nothing more.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(polls(), 5);
}

TEST(WebhookReceiver, ARotatedSecretTakesEffectOnReload) {
  Sandbox sandbox(kSandbox);
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  Daemon daemon(daemon_config(db, sandbox.url(), R"({listen: "127.0.0.1:0"})"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const int port = daemon.webhook_port();
  auto deliver = [&](const std::string& id, const std::string& secret) {
    const std::string body = stripe_event(id);
    return http_request("POST", "127.0.0.1", port, "/webhooks/stripe", body, stripe_headers(body, now_unix(), secret))
        .status;
  };
  EXPECT_EQ(deliver("evt_old_secret", kSecret), 200);
  std::string rotated = daemon_config(db, sandbox.url(), R"({listen: "127.0.0.1:0"})");
  rotated.replace(rotated.find(kSecret), std::string(kSecret).size(), "whsec_rotated");
  daemon.rewrite_config(rotated);
  daemon.process().signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return daemon.log().find("configuration reloaded") != std::string::npos; },
                         std::chrono::seconds(5)));
  // The receiver kept its socket (listen did not change) and checks with the new secret.
  EXPECT_EQ(deliver("evt_new_secret", "whsec_rotated"), 200);
  EXPECT_EQ(deliver("evt_stale_secret", kSecret), 401);
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM webhook_events"), 2);
}

TEST(WebhookReceiver, ServesTlsToAClientThatTrustsItsCaOnly) {
  TempDir certs;
  make_ca(certs);
  make_server_cert(certs, "hooks", "IP:127.0.0.1");
  TempDir other_ca;
  make_ca(other_ca);
  Sandbox sandbox(kSandbox);
  TempDir dir;
  Daemon daemon(daemon_config(dir.file("topupd.db"), sandbox.url(),
                              fmt::format(R"({{listen: "127.0.0.1:0", tls: {{cert: "{}", key: "{}"}}}})",
                                          certs.file("hooks.pem"), certs.file("hooks.key"))));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  dir.write("event.json", stripe_event("evt_over_tls"));
  const std::string url = fmt::format("https://127.0.0.1:{}/webhooks/stripe", daemon.webhook_port());
  auto post = [&](const std::string& ca) {
    return run_command({TOPUPD_NODE, TOPUPD_SOURCE_DIR "/tests/integration/peers/stripe_peer.js", "post", url,
                        dir.file("event.json"), kSecret, ca});
  };
  const auto trusted = post(certs.file("ca.pem"));
  EXPECT_NE(trusted.output.find(R"("status":200)"), std::string::npos) << trusted.output;
  const auto untrusted = post(other_ca.file("ca.pem"));
  EXPECT_NE(untrusted.output.find(R"("status":0)"), std::string::npos) << untrusted.output;
  // Plain HTTP to the TLS port is not a request.
  EXPECT_EQ(http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/stripe", "{}").status, 0);
  EXPECT_EQ(daemon.metric("topupd_webhooks_total", {"stripe", "\"accepted\""}), 1);
}

TEST(WebhookReceiver, SnapDebitNotificationsOnTheStandardPathSettleTheDebit) {
  TempDir keys;
  make_key_pair(keys, "client");
  make_key_pair(keys, "sandbox");
  const int webhook_port = free_port();
  Sandbox sandbox(fmt::format(R"(
gateways:
  snap:
    client_id: CLIENT-1
    client_secret: snap-client-secret
    client_public_key: ${{file:{}}}
    private_key: ${{file:{}}}
    path_prefix: /snap
    webhook_url: http://127.0.0.1:{}/snap/v1.0/debit/notify
    settle_after: 1s
    accounts:
      "1234567890": {{balance: IDR 5_000_000}}
)",
                              keys.file("client.pub"), keys.file("sandbox.key"), webhook_port));
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  Daemon daemon(fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
store: {{sqlite: "{}"}}
webhooks: {{listen: "127.0.0.1:{}", snap_prefix: /snap}}
providers:
  bank:
    type: snap
    base_url: {}
    path_prefix: /snap
    client_id: CLIENT-1
    client_secret: snap-client-secret
    private_key: ${{file:{}}}
    webhook: {{public_key: "${{file:{}}}"}}
accounts:
  payout: {{provider: bank, id: "1234567890", currency: IDR, poll: {{every: 1h, timeout: 5s}}}}
rules:
  - name: refill
    account: payout
    when: {{below: IDR 6_000_000}}
    top_up: {{method: direct_debit, from_account: card-token-1, amount: {{fixed: IDR 1_000_000}}}}
)",
                            db, webhook_port, sandbox.url(), keys.file("client.key"), keys.file("sandbox.pub")));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  expect_one_top_up_settled_by_webhook(db, daemon, sandbox, "%");
  if (HasFatalFailure()) return;
  EXPECT_EQ(daemon.metric("topupd_webhooks_total", {"bank", "\"accepted\""}), 1);
  EXPECT_NE(sandbox.log().find("sandbox webhook delivered url=http://127.0.0.1:" + std::to_string(webhook_port) +
                               "/snap/v1.0/debit/notify status=200"),
            std::string::npos)
      << sandbox.log();
}

TEST(WebhookReceiver, ACrashAfterStoringTheEventLosesNoTopUp) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_posting_to(webhook_port));
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  dir.write("topupd.yaml", daemon_config(db, sandbox.url(), fmt::format(R"({{listen: "127.0.0.1:{}"}})", webhook_port), kRefillRule));
  {
    // Killed with the event id stored and the sandbox not yet answered.
    Process crashing({TOPUPD_BINARY, "--config", dir.file("topupd.yaml")}, {{"TOPUPD_CRASH_AT", "webhook.after_persist"}},
                     dir.file("crash.log"));
    const auto status = crashing.wait(std::chrono::seconds(15));
    ASSERT_EQ(status, 128 + SIGKILL) << read_file(dir.file("crash.log"));
  }
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM webhook_events"), 1);
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM top_ups WHERE state = 'pending'"), 1);
  // Restarted, topupd gets the redelivery as a duplicate and does nothing with it; its
  // first poll looks the pending top-up up and finds it succeeded.
  Process restarted({TOPUPD_BINARY, "--config", dir.file("topupd.yaml")}, {}, dir.file("restart.log"));
  ASSERT_TRUE(eventually([&] {
    return count_rows(db, "SELECT COUNT(*) FROM top_ups WHERE state = 'succeeded'") == 1;
  }, std::chrono::seconds(15))) << read_file(dir.file("restart.log"));
  ASSERT_TRUE(eventually([&] {
    return sandbox.log().find("sandbox webhook delivered") != std::string::npos;
  }, std::chrono::seconds(15))) << sandbox.log();
  EXPECT_EQ(count_rows(db, "SELECT COUNT(*) FROM top_ups"), 1);
  EXPECT_EQ(ledger_keys(sandbox.get("/_sandbox/ledger").body).size(), 1u);
  EXPECT_NE(read_file(dir.file("restart.log")).find("webhook duplicate"), std::string::npos);
  restarted.signal(SIGTERM);
  EXPECT_EQ(restarted.wait(std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace topupd::testing
