// Notifications from the real daemon to real peers on loopback: HTTP sinks standing in
// for Slack, Telegram and a webhook receiver (the webhook's HMAC checked with the
// openssl command line), a notifier that is down while the alert fires (delivered
// when it is back, also across a SIGKILL of topupd), a 4xx that is not retried, a real
// SMTP server with STARTTLS and AUTH, silences and acks through topupctl, and real
// Prometheus Alertmanagers showing the alert, its end, and what still fires after a
// restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

#include "integration/harness.hpp"
#include "integration/sandbox.hpp"
#include "integration/sink.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

// The payout account starts below IDR 95,000; a IDR 50,000 top-up settles after
// `settle_after` and resolves the alert.
std::string alerting_config(const std::string& notifiers, const std::string& notify, const std::string& store = "",
                            const std::string& settle_after = "1h", const std::string& more_top_up = "") {
  return fmt::format(R"(
http: {{listen: 127.0.0.1:0}}
{}
providers:
  sim:
    type: sandbox
    settle_after: {}
    accounts:
      payout: {{balance: IDR 90_000}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 200ms, timeout: 1s, jitter: 0%}}}}
notifiers:
{}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    alert: {{severity: critical, notify: [{}]}}
    top_up: {{method: direct_debit, from_account: "1234567890", amount: {{fixed: IDR 50_000}}{}}}
)",
                     store.empty() ? "" : "store: {sqlite: \"" + store + "\"}", settle_after, notifiers, notify,
                     more_top_up);
}

std::optional<adapters::json::Value> body_json(const adapters::net::ServerRequest& r) {
  return adapters::json::parse(r.body);
}

TEST(Notifications, SlackTelegramAndWebhookGetTheAlertWithWhatTopupdDid) {
  Sink slack, telegram, hook;
  TempDir dir;
  Daemon daemon(alerting_config(fmt::format(R"(
  slack: {{type: slack, webhook_url: "{}", locale: id-ID, dashboard_url: "https://grafana.example/d/topupd"}}
  telegram: {{type: telegram, bot_token: "123456:secret-token", chat_id: "-100123", api_url: "{}"}}
  hook: {{type: webhook, url: "{}", secret: webhook-secret}}
)",
                                            slack.url("/services/T0/B0/X"), telegram.url(), hook.url("/alerts")),
                                "slack, telegram, hook"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] {
    return !slack.accepted().empty() && !telegram.accepted().empty() && !hook.accepted().empty();
  }, 10s)) << daemon.log();

  const auto slack_request = slack.accepted().front();
  EXPECT_EQ(slack_request.path, "/services/T0/B0/X");
  auto slack_body = body_json(slack_request);
  ASSERT_TRUE(slack_body) << slack_request.body;
  EXPECT_EQ(slack_body->string_at("text"), "[FIRING] payout-low on payout (critical)");
  const std::string attachment = slack_body->find("attachments")->items().at(0).serialize();
  EXPECT_NE(attachment.find("#d00000"), std::string::npos) << attachment;
  EXPECT_NE(attachment.find("Rp90.000"), std::string::npos) << attachment;
  EXPECT_NE(attachment.find("Rp95.000"), std::string::npos) << attachment;
  EXPECT_NE(attachment.find("direct_debit"), std::string::npos) << "what topupd did: " << attachment;
  EXPECT_NE(attachment.find("https://grafana.example/d/topupd|Dashboard"), std::string::npos) << attachment;

  const auto telegram_request = telegram.accepted().front();
  EXPECT_EQ(telegram_request.path, "/bot123456:secret-token/sendMessage");
  auto telegram_body = body_json(telegram_request);
  ASSERT_TRUE(telegram_body);
  EXPECT_EQ(telegram_body->string_at("chat_id"), "-100123");
  EXPECT_EQ(telegram_body->string_at("parse_mode"), "HTML");
  EXPECT_EQ(telegram_body->string_at("text")->rfind("<b>[FIRING] payout-low on payout (critical)</b>", 0), 0u);

  // The webhook's signature, checked independently with openssl.
  const auto hook_request = hook.accepted().front();
  const auto timestamp = hook_request.header("X-Topupd-Timestamp");
  const auto signature = hook_request.header("X-Topupd-Signature");
  ASSERT_TRUE(timestamp && signature);
  dir.write("signed.txt", *timestamp + "." + hook_request.body);
  const auto mac = run_command({TOPUPD_OPENSSL, "dgst", "-sha512", "-hmac", "webhook-secret", "-r", dir.file("signed.txt")});
  ASSERT_EQ(mac.status, 0) << mac.output;
  EXPECT_EQ(*signature, "sha512=" + mac.output.substr(0, 128));
  auto hook_body = body_json(hook_request);
  ASSERT_TRUE(hook_body);
  const auto& alert = hook_body->find("alerts")->items().at(0);
  EXPECT_EQ(alert.string_at("status"), "FIRING");
  EXPECT_EQ(alert.find("balance_minor")->text(), "9000000");
  EXPECT_EQ(alert.string_at("topup_method"), "direct_debit");

  EXPECT_EQ(daemon.metric("topupd_notifications_total", {"slack", "delivered"}), 1);
  EXPECT_EQ(daemon.metric("topupd_notifications_pending", {"telegram"}), 0);
  EXPECT_EQ(daemon.log().find("secret-token"), std::string::npos) << "the bot token must never be logged";
}

// Every alert a webhook sink received, in order, as "ALERT STATUS".
std::vector<std::string> alerts_heard(const Sink& hook) {
  std::vector<std::string> out;
  for (const auto& request : hook.accepted()) {
    auto body = body_json(request);
    if (!body || !body->find("alerts")) continue;
    for (const auto& alert : body->find("alerts")->items()) {
      out.push_back(alert.string_at("alert").value_or("?") + " " + alert.string_at("status").value_or("?"));
    }
  }
  return out;
}

TEST(Notifications, ATopUpStuckPendingAlertsOnceAndResolvesWhenItSettles) {
  Sink hook;
  // Pending for the sandbox's 6 s settlement, stuck after 2 s.
  Daemon daemon(alerting_config(fmt::format("  hook: {{type: webhook, url: \"{}\"}}\n", hook.url("/alerts")), "hook", "",
                                "6s", ", stuck_after: 2s"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto heard = [&](const std::string& what) {
    const auto all = alerts_heard(hook);
    return std::count(all.begin(), all.end(), what);
  };
  ASSERT_TRUE(eventually([&] { return heard("TopUpStuck FIRING") == 1; }, 10s)) << daemon.log();
  EXPECT_NE(daemon.log().find("TopUpStuck: top-up topupd-payout-low-payout-"), std::string::npos) << daemon.log();
  ASSERT_TRUE(eventually([&] { return heard("TopUpStuck RESOLVED") == 1; }, 15s)) << daemon.log();
  ASSERT_TRUE(eventually([&] { return heard("payout-low RESOLVED") == 1; }, 10s)) << daemon.log();
  // Once each: the stuck alert neither repeats nor resolves the rule's own alert.
  EXPECT_EQ(heard("TopUpStuck FIRING"), 1);
  EXPECT_EQ(heard("TopUpStuck RESOLVED"), 1);
  EXPECT_EQ(heard("payout-low FIRING"), 1);
  // The witness: one movement for the one top-up, however long it was pending.
  const auto ledger = daemon.get("/sandbox/ledger").body;
  EXPECT_EQ(ledger_keys(ledger).size(), 1u) << ledger;
}

TEST(Notifications, ANotifierThatIsDownGetsTheMessageWhenBackEvenAcrossAKill) {
  Sink slack, hook;
  slack.answer_with(503);
  TempDir dir;
  const std::string config = alerting_config(fmt::format(R"(
  slack: {{type: slack, webhook_url: "{}"}}
  hook: {{type: webhook, url: "{}"}}
)",
                                                         slack.url(), hook.url()),
                                             "slack, hook", dir.file("topupd.db"));
  {
    Daemon daemon(config);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    // The healthy notifier is not held up by the broken one.
    ASSERT_TRUE(eventually([&] { return hook.accepted().size() == 1; }, 10s)) << daemon.log();
    ASSERT_TRUE(eventually([&] { return slack.received().size() >= 2; }, 15s)) << daemon.log();
    EXPECT_TRUE(slack.accepted().empty());
    EXPECT_EQ(daemon.metric("topupd_notifications_pending", {"slack"}), 1);
    EXPECT_NE(daemon.log().find("notification not delivered, will retry: Slack answered HTTP 503"), std::string::npos);
    daemon.process().signal(SIGKILL);
    daemon.process().wait(5s);
  }
  slack.answer_with(200);
  Daemon restarted(config);
  ASSERT_TRUE(restarted.wait_ready()) << restarted.log();
  ASSERT_TRUE(eventually([&] { return slack.accepted().size() == 1; }, 20s)) << restarted.log();
  EXPECT_NE(slack.accepted().front().body.find("[FIRING] payout-low on payout"), std::string::npos);
  std::this_thread::sleep_for(1s);
  // Still firing after the restart: no second alert, and the hook got nothing new.
  EXPECT_EQ(slack.accepted().size(), 1u);
  EXPECT_EQ(hook.accepted().size(), 1u);
}

TEST(Notifications, ARefusalIsReportedAndNotRetried) {
  Sink hook;
  hook.answer_with(400);
  Daemon daemon(alerting_config(fmt::format("  hook: {{type: webhook, url: \"{}\"}}\n", hook.url()), "hook"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_notifications_total", {"hook", "rejected"}) == 1; }, 10s))
      << daemon.log();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(hook.received().size(), 1u);
  EXPECT_NE(daemon.log().find("notification refused, not retried: webhook answered HTTP 400"), std::string::npos);
}

TEST(Notifications, NotifyTestSendsOneMessageAndSaysWhatHappened) {
  Sink slack;
  TempDir dir;
  dir.write("topupd.yaml", alerting_config(fmt::format("  slack: {{type: slack, webhook_url: \"{}\"}}\n", slack.url()), "slack"));
  const auto ok = run_command({TOPUPD_BINARY, "notify-test", "--config", dir.file("topupd.yaml"), "--notifier", "slack"});
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("notifier slack (slack): delivered"), std::string::npos) << ok.output;
  ASSERT_EQ(slack.accepted().size(), 1u);
  EXPECT_NE(slack.accepted().front().body.find("topupd-notify-test"), std::string::npos);
  slack.answer_with(404);
  const auto refused = run_command({TOPUPD_BINARY, "notify-test", "--config", dir.file("topupd.yaml"), "--notifier", "slack"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.output.find("refused (not worth retrying): Slack answered HTTP 404"), std::string::npos) << refused.output;
  const auto unknown = run_command({TOPUPD_BINARY, "notify-test", "--config", dir.file("topupd.yaml"), "--notifier", "nope"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("configured: slack"), std::string::npos) << unknown.output;
}

TEST(Notifications, EmailArrivesOverStartTlsWithAuthAndBothParts) {
  TempDir dir;
  make_ca(dir);
  make_server_cert(dir, "smtp", "IP:127.0.0.1");
  const int port = free_port();
  Process smtp({TOPUPD_PYTHON, TOPUPD_SOURCE_DIR "/tests/integration/peers/smtp_server.py", std::to_string(port),
                dir.file("smtp.pem"), dir.file("smtp.key"), "topupd", "mail-password", dir.file("mail.jsonl")},
               {}, dir.file("smtp.log"));
  wait_for_line(dir.file("smtp.log"), R"(smtp listening on (\d+))", 15s, &smtp);
  auto email = [&](const std::string& name, const std::string& password) {
    return fmt::format(R"(  {}: {{type: email, smtp: "smtp://127.0.0.1:{}", starttls: required, username: topupd,
        password: "{}", from: topupd@example.com, to: [finance@example.com, "ops@example.com"], ca_file: "{}",
        locale: id-ID, runbook_url: "https://wiki.example/topupd"}}
)",
                       name, port, password, dir.file("ca.pem"));
  };
  Daemon daemon(alerting_config(email("mail", "mail-password") + email("wrong", "not-the-password"), "mail, wrong"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::string received;
  ASSERT_TRUE(eventually([&] {
    received = read_file(dir.file("mail.jsonl"));
    return !received.empty();
  }, 15s)) << daemon.log() << read_file(dir.file("smtp.log"));
  auto line = adapters::json::parse(received.substr(0, received.find('\n')));
  ASSERT_TRUE(line) << received;
  EXPECT_TRUE(line->find("tls")->as_bool()) << "sent only after STARTTLS";
  EXPECT_TRUE(line->find("authenticated")->as_bool());
  EXPECT_EQ(line->string_at("from"), "topupd@example.com");
  EXPECT_EQ(line->find("to")->items().size(), 2u);
  const std::string data = *line->string_at("data");
  EXPECT_NE(data.find("Subject: [FIRING] payout-low on payout (critical)\r\n"), std::string::npos) << data;
  EXPECT_TRUE(std::regex_search(data, std::regex(R"(Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000)"))) << data;
  EXPECT_TRUE(std::regex_search(data, std::regex(R"(Message-ID: <[0-9a-f]{32}@example\.com>)"))) << data;
  EXPECT_NE(data.find("Content-Type: multipart/alternative"), std::string::npos);
  EXPECT_NE(data.find("Content-Type: text/plain; charset=utf-8"), std::string::npos);
  EXPECT_NE(data.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
  // The parts are base64: the text one says the balance the Indonesian way.
  const auto start = data.find("\r\n\r\n", data.find("text/plain")) + 4;
  std::string encoded = data.substr(start, data.find("--topupd-", start) - start);
  encoded.erase(std::remove_if(encoded.begin(), encoded.end(), [](char c) { return c == '\r' || c == '\n'; }),
                encoded.end());
  const auto text = adapters::crypto::unbase64(encoded);
  ASSERT_TRUE(text) << encoded;
  EXPECT_NE(text->find("Balance: Rp90.000"), std::string::npos) << *text;
  EXPECT_NE(text->find("Runbook: https://wiki.example/topupd"), std::string::npos) << *text;
  // A wrong password is reported once and not retried.
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_notifications_total", {"wrong", "rejected"}) == 1; }, 15s))
      << daemon.log();
  EXPECT_NE(daemon.log().find("notification refused, not retried: SMTP smtp://127.0.0.1"), std::string::npos);
  EXPECT_EQ(daemon.log().find("not-the-password"), std::string::npos) << "a password must never be logged";
  EXPECT_EQ(daemon.metric("topupd_notifications_total", {"mail", "delivered"}), 1);
}

TEST(Notifications, SilencesAndAcksHoldAlertsBackAndSurviveARestart) {
  Sink hook;
  TempDir dir;
  const std::string socket = dir.file("control.sock");
  const std::string config = fmt::format(R"(
http: {{listen: 127.0.0.1:0}}
store: {{sqlite: "{}"}}
control: {{socket: "{}"}}
providers:
  sim: {{type: sandbox, accounts: {{payout: {{balance: IDR 90_000}}}}}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 200ms, timeout: 1s, jitter: 0%}}}}
notifiers:
  hook: {{type: webhook, url: "{}"}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    alert: {{severity: warning, notify: [hook], repeat: 1s}}
)",
                                         dir.file("topupd.db"), socket, hook.url());
  auto count = [&] { return hook.accepted().size(); };
  {
    Daemon daemon(config);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    ASSERT_TRUE(eventually([&] { return count() >= 2; }, 10s)) << "firing, then a repeat: " << daemon.log();
    // Acknowledged: the repeats stop.
    const auto ack = topupctl(socket, {"ack", "payout-low", "--reason", "looking into it"});
    ASSERT_EQ(ack.status, 0) << ack.output;
    std::this_thread::sleep_for(500ms);
    const auto after_ack = count();
    std::this_thread::sleep_for(2500ms);
    EXPECT_EQ(count(), after_ack);
    EXPECT_GE(daemon.metric("topupd_notifications_total", {"hook", "silenced"}).value_or(0), 2);
    const auto status = topupctl(socket, {"status"});
    EXPECT_NE(status.output.find("payout-low               ack      "), std::string::npos) << status.output;
    EXPECT_NE(status.output.find("looking into it"), std::string::npos) << status.output;
    // Lifted: they come back.
    ASSERT_EQ(topupctl(socket, {"unsilence", "payout-low"}).status, 0);
    ASSERT_TRUE(eventually([&] { return count() > after_ack; }, 5s));
    // A silence of the account, by name, for an hour.
    const auto silence = topupctl(socket, {"silence", "payout", "--for", "1h", "--reason", "bank maintenance"});
    ASSERT_EQ(silence.status, 0) << silence.output;
    EXPECT_NE(silence.output.find("silenced payout until"), std::string::npos) << silence.output;
    EXPECT_EQ(topupctl(socket, {"silence", "nobody", "--for", "1h"}).status, 1);
    EXPECT_EQ(topupctl(socket, {"silence", "payout"}).status, 2) << "--for is required";
    daemon.process().signal(SIGTERM);
    ASSERT_EQ(daemon.process().wait(5s), 0);
  }
  const auto before_restart = count();
  Daemon restarted(config);
  ASSERT_TRUE(restarted.wait_ready()) << restarted.log();
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(count(), before_restart) << "the silence outlived the restart";
  EXPECT_NE(topupctl(socket, {"status"}).output.find("bank maintenance"), std::string::npos);
}

// A real prometheus-alertmanager on a free loopback port, gossip off.
class Alertmanager {
 public:
  Alertmanager() : port_(free_port()) {
    dir_.write("alertmanager.yml", "route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{TOPUPD_ALERTMANAGER, "--config.file=" + dir_.file("alertmanager.yml"),
                                 "--storage.path=" + dir_.file("data"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--cluster.listen-address="},
        std::map<std::string, std::string>{}, dir_.file("alertmanager.log"));
    ready_ = eventually([&] { return http_get("127.0.0.1", port_, "/-/ready").status == 200; }, 15s);
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return read_file(dir_.file("alertmanager.log")); }
  bool active(const std::string& alertname) const {
    return http_get("127.0.0.1", port_, "/api/v2/alerts?active=true").body.find("\"alertname\":\"" + alertname + "\"") !=
           std::string::npos;
  }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
  bool ready_ = false;
};

TEST(Notifications, EveryAlertmanagerHearsWhatStillFiresAfterARestart) {
  Alertmanager first, second;
  ASSERT_TRUE(first.ready() && second.ready()) << first.log() << second.log();
  TempDir dir;
  const std::string config = fmt::format(R"(
http: {{listen: 127.0.0.1:0}}
store: {{sqlite: "{}"}}
providers:
  sim: {{type: sandbox, accounts: {{payout: {{balance: IDR 90_000}}}}}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 200ms, timeout: 1s}}}}
notifiers:
  am: {{type: alertmanager, url: ["{}", "{}"], resend: 1s}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    alert: {{severity: critical, notify: [am]}}
)",
                                         dir.file("topupd.db"), first.url(), second.url());
  {
    Daemon daemon(config);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    ASSERT_TRUE(eventually([&] { return first.active("payout-low") && second.active("payout-low"); }, 10s))
        << daemon.log();
    daemon.process().signal(SIGTERM);
    ASSERT_EQ(daemon.process().wait(5s), 0);
  }
  // Not re-sent, the alert ends at its endsAt (4 x resend).
  ASSERT_TRUE(eventually([&] { return !first.active("payout-low") && !second.active("payout-low"); }, 15s));
  // The rule is still firing in the store: no new alert, but both instances hear it again.
  Daemon restarted(config);
  ASSERT_TRUE(restarted.wait_ready()) << restarted.log();
  ASSERT_TRUE(eventually([&] { return first.active("payout-low") && second.active("payout-low"); }, 10s))
      << restarted.log();
  EXPECT_EQ(restarted.metric("topupd_alerts_total", {"payout-low"}), 0) << "not announced as new";
}

TEST(Notifications, AlertmanagerShowsTheAlertWithItsLabelsAndThenItsEnd) {
  Alertmanager alertmanager;
  ASSERT_TRUE(alertmanager.ready()) << alertmanager.log();
  const int port = alertmanager.port();
  Daemon daemon(alerting_config(fmt::format("  am: {{type: alertmanager, url: [\"http://127.0.0.1:{}\"], resend: 1s}}\n", port),
                                "am", "", "4s"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::string alerts;
  ASSERT_TRUE(eventually([&] {
    alerts = http_get("127.0.0.1", port, "/api/v2/alerts").body;
    return alerts.find("payout-low") != std::string::npos;
  }, 10s)) << daemon.log() << alertmanager.log();
  auto parsed = adapters::json::parse(alerts);
  ASSERT_TRUE(parsed && parsed->is_array() && parsed->items().size() == 1) << alerts;
  const auto& alert = parsed->items().at(0);
  EXPECT_EQ(alert.at_pointer("/labels/alertname")->text(), "payout-low");
  EXPECT_EQ(alert.at_pointer("/labels/account")->text(), "payout");
  EXPECT_EQ(alert.at_pointer("/labels/severity")->text(), "critical");
  EXPECT_EQ(alert.at_pointer("/labels/source")->text(), "topupd");
  EXPECT_EQ(alert.at_pointer("/status/state")->text(), "active");
  EXPECT_NE(alert.at_pointer("/annotations/summary")->text().find("[FIRING]"), std::string::npos);
  // The top-up settles after 4 s and the rule resolves: the alert ends.
  ASSERT_TRUE(eventually([&] {
    return http_get("127.0.0.1", port, "/api/v2/alerts?active=true").body.find("payout-low") == std::string::npos;
  }, 20s)) << daemon.log() << http_get("127.0.0.1", port, "/api/v2/alerts").body;
  EXPECT_GE(daemon.metric("topupd_notifications_total", {"am", "delivered"}).value_or(0), 2);
}

}  // namespace
}  // namespace topupd::testing
