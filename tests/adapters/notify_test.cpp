// What notifications say: amounts for Indonesian readers, templates, the outbox's JSON
// and the bodies Slack, Telegram, webhook receivers and Alertmanager get.
#include <gtest/gtest.h>

#include "topupd/adapters/json.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/notify/email_notifier.hpp"
#include "topupd/adapters/notify/http_notifiers.hpp"
#include "topupd/adapters/notify/message.hpp"
#include "topupd/adapters/qr/qr_image.hpp"

namespace topupd::adapters {
namespace {

core::Money money(const char* text) { return *core::parse_money(text).value; }
core::Timestamp at(long long unix_seconds) { return core::Timestamp(std::chrono::seconds(unix_seconds)); }

Notification firing() {
  Notification n;
  n.kind = core::DecisionKind::alert_firing;
  n.rule = "payout-low";
  n.account = "payout";
  n.severity = "critical";
  n.reason = "balance IDR 9,000,000.00 < IDR 10,000,000.00 for 1m <now>";
  n.balance = money("IDR 9_000_000");
  n.threshold = money("IDR 10_000_000");
  n.runway = std::chrono::minutes(95);
  n.action = "direct_debit k1 of IDR 41,000,000.00 awaiting approval";
  n.top_up = TopUpSummary{"k1", money("IDR 41_000_000"), "direct_debit", "awaiting_approval", true, "",
                          "https://topupd.example/top-ups/k1"};
  n.at = at(1'800'000'060);
  n.fired_at = at(1'800'000'000);
  return n;
}

config::NotifierConfig notifier(const char* type) {
  config::NotifierConfig c;
  c.name = type;
  c.type = config::notifier_type_named(type);
  c.locale = "id-ID";
  c.dashboard_url = "https://grafana.example/d/topupd";
  c.runbook_url = "https://wiki.example/topupd";
  c.chat_id = "-100123";
  c.urls = {"http://127.0.0.1:9093"};
  return c;
}

TEST(NotifyFormat, AmountsFollowTheReadersLocale) {
  EXPECT_EQ(notify::format_amount(money("IDR 10_000_000"), "id-ID"), "Rp10.000.000");
  EXPECT_EQ(notify::format_amount(money("IDR 1_000.50"), "id-ID"), "Rp1.000,50");
  EXPECT_EQ(notify::format_amount(money("IDR -500"), "id-ID"), "-Rp500");
  EXPECT_EQ(notify::format_amount(money("USD 1_234.56"), "id-ID"), "USD 1.234,56");
  EXPECT_EQ(notify::format_amount(money("IDR 10_000_000"), "en"), "IDR 10,000,000.00");
}

TEST(NotifyFormat, TemplatesFillFieldsAndQuoteThemForJson) {
  notify::Presentation p{"id-ID", "https://d", "", ""};
  const auto fields = notify::template_fields(firing(), p);
  EXPECT_EQ(notify::render("{{status}}: {{ account }} at {{balance}}{{nope}}", fields, false),
            "FIRING: payout at Rp9.000.000");
  const std::string body = notify::render(R"({"text": {{reason}}, "approval": {{approval}}})", fields, true);
  auto parsed = json::parse(body);
  ASSERT_TRUE(parsed) << body;
  EXPECT_EQ(parsed->string_at("text"), firing().reason);
  EXPECT_EQ(parsed->string_at("approval"), "needed");
}

TEST(NotifyFormat, TheStandardTextSaysWhatHappenedAndWhatTopupdDid) {
  const std::string text = notify::message_text(firing(), {"id-ID", "https://d", "https://r", ""});
  EXPECT_NE(text.find("[FIRING] payout-low on payout (critical)"), std::string::npos) << text;
  EXPECT_NE(text.find("Balance: Rp9.000.000"), std::string::npos) << text;
  EXPECT_NE(text.find("Threshold: Rp10.000.000"), std::string::npos) << text;
  EXPECT_NE(text.find("Runway: 1h35m"), std::string::npos) << text;
  EXPECT_NE(text.find("direct_debit k1 of Rp41.000.000, awaiting_approval (approval needed"), std::string::npos) << text;
  EXPECT_NE(text.find("Dashboard: https://d"), std::string::npos) << text;
  EXPECT_NE(text.find("Approve or reject: https://topupd.example/top-ups/k1"), std::string::npos) << text;
}

TEST(NotifyFormat, ANotificationSurvivesTheOutboxUnchanged) {
  const Notification n = firing();
  auto back = notify::notification_from_json(notify::to_json(n));
  ASSERT_TRUE(back);
  EXPECT_EQ(notify::to_json(*back), notify::to_json(n));
  EXPECT_EQ(back->balance, n.balance);
  EXPECT_EQ(back->top_up->key, "k1");
  EXPECT_TRUE(back->top_up->needs_approval);
  EXPECT_EQ(back->top_up->approve_url, "https://topupd.example/top-ups/k1");
  EXPECT_EQ(back->fired_at, n.fired_at);
  EXPECT_FALSE(notify::notification_from_json("{\"kind\":\"top_up\"}"));
  EXPECT_FALSE(notify::notification_from_json("not json"));
  EXPECT_FALSE(notify::notification_from_json(
      R"({"kind":"alert_firing","runway_ms":99999999999999999999999})"));  // refused, never thrown
}

TEST(NotifyPayload, SlackGetsBlockKitColouredBySeverity) {
  Notification resolved = firing();
  resolved.kind = core::DecisionKind::alert_resolved;
  resolved.top_up.reset();
  resolved.action.clear();
  const std::vector<Notification> batch = {firing(), resolved};
  auto body = json::parse(slack_payload(batch, notifier("slack")));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->string_at("text"), "[FIRING] payout-low on payout (critical) and 1 more");
  const auto& attachments = body->find("attachments")->items();
  ASSERT_EQ(attachments.size(), 2u);
  EXPECT_EQ(attachments[0].string_at("color"), "#d00000");
  EXPECT_EQ(attachments[1].string_at("color"), "#2eb67d");
  const std::string first = attachments[0].serialize();
  EXPECT_NE(first.find("Rp9.000.000"), std::string::npos);
  EXPECT_NE(first.find("&lt;now&gt;"), std::string::npos) << "mrkdwn control characters are escaped";
  EXPECT_NE(first.find("<https://grafana.example/d/topupd|Dashboard>"), std::string::npos);
}

TEST(NotifyPayload, TelegramGetsEscapedHtml) {
  const std::vector<Notification> batch = {firing()};
  auto body = json::parse(telegram_payload(batch, notifier("telegram")));
  ASSERT_TRUE(body);
  EXPECT_EQ(body->string_at("chat_id"), "-100123");
  EXPECT_EQ(body->string_at("parse_mode"), "HTML");
  const std::string text = *body->string_at("text");
  EXPECT_EQ(text.rfind("<b>[FIRING] payout-low on payout (critical)</b>", 0), 0u) << text;
  EXPECT_NE(text.find("&lt;now&gt;"), std::string::npos) << text;
  EXPECT_EQ(text.find("<now>"), std::string::npos) << text;
}

TEST(NotifyPayload, WebhookBodiesAreJsonWithOrWithoutATemplate) {
  const std::vector<Notification> batch = {firing()};
  auto standard = json::parse(webhook_payload(batch, notifier("webhook")));
  ASSERT_TRUE(standard);
  const auto& alert = standard->find("alerts")->items().at(0);
  EXPECT_EQ(alert.string_at("rule"), "payout-low");
  EXPECT_EQ(alert.find("balance_minor")->text(), "900000000");
  EXPECT_EQ(alert.string_at("topup_id"), "k1");
  auto templated_config = notifier("webhook");
  templated_config.body_template = R"({"msg": {{text}}, "who": {{account}}})";
  auto templated = json::parse(webhook_payload(batch, templated_config));
  ASSERT_TRUE(templated);
  EXPECT_EQ(templated->string_at("who"), "payout");
  EXPECT_NE(templated->string_at("msg")->find("Balance: Rp9.000.000"), std::string::npos);
}

TEST(NotifyPayload, AlertmanagerAlertsAreIdentifiedByLabelsAndExpireUnlessResent) {
  Notification resolved = firing();
  resolved.kind = core::DecisionKind::alert_resolved;
  resolved.at = at(1'800'000'600);
  const std::vector<Notification> batch = {firing(), resolved};
  auto body = json::parse(alertmanager_payload(batch, notifier("alertmanager"), at(1'800'000'100)));
  ASSERT_TRUE(body && body->is_array());
  const auto& a = body->items().at(0);
  EXPECT_EQ(a.at_pointer("/labels/alertname")->text(), "payout-low");
  EXPECT_EQ(a.at_pointer("/labels/account")->text(), "payout");
  EXPECT_EQ(a.at_pointer("/labels/severity")->text(), "critical");
  EXPECT_EQ(a.at_pointer("/annotations/summary")->text(), "[FIRING] payout-low on payout (critical)");
  EXPECT_EQ(a.string_at("startsAt"), core::format_rfc3339(at(1'800'000'000)));
  EXPECT_EQ(a.string_at("endsAt"), core::format_rfc3339(at(1'800'000'100 + 4 * 60)));  // now + 4 × resend
  EXPECT_EQ(body->items().at(1).string_at("endsAt"), core::format_rfc3339(at(1'800'000'600)));
  EXPECT_EQ(a.string_at("generatorURL"), "https://grafana.example/d/topupd");
}

TEST(NotifyPayload, AnAlertAboutOneTopUpIsItsOwnAlertAndSurvivesTheOutbox) {
  Notification stuck = firing();
  stuck.alert = "TopUpStuck";
  stuck.severity = "warning";
  const std::vector<Notification> batch = {firing(), stuck};
  auto body = json::parse(alertmanager_payload(batch, notifier("alertmanager"), at(1'800'000'100)));
  ASSERT_TRUE(body && body->is_array());
  const auto& rules_own = body->items().at(0);
  const auto& about_top_up = body->items().at(1);
  EXPECT_EQ(rules_own.at_pointer("/labels/alertname")->text(), "payout-low");
  EXPECT_EQ(rules_own.at_pointer("/labels/topup_id"), nullptr);  // the rule's alert keeps its identity
  EXPECT_EQ(about_top_up.at_pointer("/labels/alertname")->text(), "TopUpStuck");
  EXPECT_EQ(about_top_up.at_pointer("/labels/rule")->text(), "payout-low");
  EXPECT_EQ(about_top_up.at_pointer("/labels/topup_id")->text(), "k1");
  EXPECT_EQ(about_top_up.at_pointer("/annotations/summary")->text(), "[FIRING] TopUpStuck of payout-low on payout (warning)");
  auto back = notify::notification_from_json(notify::to_json(stuck));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->alert, "TopUpStuck");
  EXPECT_EQ(notify::to_json(*back), notify::to_json(stuck));
}

TEST(NotifyPayload, EmailHeadersAreEncodedAndDated) {
  EXPECT_EQ(encode_header("[FIRING] payout-low"), "[FIRING] payout-low");
  const std::string encoded = encode_header("Saldo rendah \xE2\x80\x94 payout");
  ASSERT_EQ(encoded.rfind("=?UTF-8?B?", 0), 0u);
  EXPECT_EQ(crypto::unbase64(encoded.substr(10, encoded.size() - 12)), "Saldo rendah \xE2\x80\x94 payout");
  auto config = notifier("email");
  config.from = "topupd@example.com";
  config.to = {"finance@example.com", "ops@example.com"};
  const std::vector<Notification> batch = {firing()};
  const std::string m = email_message(batch, config, at(1'800'000'060), "<abc@example.com>");
  EXPECT_NE(m.find("Date: Fri, 15 Jan 2027 08:01:00 +0000\r\n"), std::string::npos) << m;
  EXPECT_NE(m.find("To: finance@example.com, ops@example.com\r\n"), std::string::npos);
  EXPECT_NE(m.find("Message-ID: <abc@example.com>\r\n"), std::string::npos);
  EXPECT_NE(m.find("multipart/alternative"), std::string::npos);
  EXPECT_EQ(m.find("\n\n"), std::string::npos) << "every line ends in CRLF";
}

TEST(NotifyPayload, AQrisCodeTravelsAsAnInlineImageAPhotoAndText) {
  Notification n = firing();
  n.qr = "00020101021226400014ID.CO.QRIS.WWW5204482953033605406150000";
  // Every text form carries the string; the outbox keeps it.
  EXPECT_NE(notify::message_text(n, {}).find("\nQRIS: " + n.qr), std::string::npos);
  EXPECT_EQ(notify::notification_from_json(notify::to_json(n))->qr, n.qr);
  auto config = notifier("email");
  config.from = "topupd@example.com";
  config.to = {"finance@example.com"};
  const std::vector<Notification> batch = {firing(), n};
  const std::string m = email_message(batch, config, at(1'800'000'060), "<abc@example.com>");
  // multipart/related around the alternatives, the PNG named by the Content-ID the HTML uses.
  ASSERT_NE(m.find("Content-Type: multipart/related; boundary="), std::string::npos) << m;
  ASSERT_NE(m.find("Content-ID: <qris-1@topupd>"), std::string::npos) << "the second notification's code";
  EXPECT_EQ(m.find("qris-0@topupd"), std::string::npos) << "the first has no code";
  const auto start = m.find("\r\n\r\n", m.find("Content-ID: <qris-1@topupd>")) + 4;
  std::string encoded = m.substr(start, m.find("\r\n--", start) - start);
  std::erase_if(encoded, [](char c) { return c == '\r' || c == '\n'; });
  EXPECT_EQ(crypto::unbase64(encoded), qr::png(n.qr));
  EXPECT_EQ(m.find("\n\n"), std::string::npos) << "every line ends in CRLF";
  const std::vector<Notification> plain = {firing()};
  EXPECT_EQ(email_message(plain, config, at(1'800'000'060), "<x@example.com>").find("multipart/related"),
            std::string::npos) << "no code, no image part";
  // Telegram's sendPhoto: the chat, the caption and the PNG as form-data.
  const std::string png = *qr::png(n.qr);
  const std::string photo = telegram_photo("-100123", n.qr, png, "b0undary");
  EXPECT_NE(photo.find("--b0undary\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n-100123\r\n"),
            std::string::npos);
  EXPECT_NE(photo.find("name=\"photo\"; filename=\"qris.png\"\r\nContent-Type: image/png\r\n\r\n" + png),
            std::string::npos);
  EXPECT_TRUE(photo.ends_with("--b0undary--\r\n"));
}

TEST(QrImage, APngOfTheCodeAndATerminalDrawing) {
  const auto png = qr::png("hello", 2, 4);
  ASSERT_TRUE(png);
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // IHDR: 21 modules (version 1) plus 4 on each side, 2 pixels each, 1-bit grey-scale.
  const auto u32 = [&](std::size_t at) {
    return (static_cast<unsigned char>((*png)[at]) << 24) | (static_cast<unsigned char>((*png)[at + 1]) << 16) |
           (static_cast<unsigned char>((*png)[at + 2]) << 8) | static_cast<unsigned char>((*png)[at + 3]);
  };
  EXPECT_EQ(png->substr(12, 4), "IHDR");
  EXPECT_EQ(u32(16), 58u);
  EXPECT_EQ(u32(20), 58u);
  EXPECT_EQ((*png)[24], 1);  // bit depth
  EXPECT_EQ((*png)[25], 0);  // grey-scale
  EXPECT_TRUE(png->ends_with(std::string("IEND\xae\x42\x60\x82", 8))) << "the end chunk and its CRC";
  const auto drawn = qr::terminal("hello");
  ASSERT_TRUE(drawn);
  // 21 modules and a quiet zone of 2 on each side: 25 columns, 13 lines of two rows.
  EXPECT_EQ(std::count(drawn->begin(), drawn->end(), '\n'), 13);
  EXPECT_FALSE(qr::png(std::string(8000, 'x')));  // too long for any QR code
}

}  // namespace
}  // namespace topupd::adapters
