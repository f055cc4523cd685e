// A QRIS ticket a person pays, end to end: the real topupd asks the stand-alone sandbox
// (speaking Xendit's QR codes) for a dynamic code, e-mails it as an inline PNG through a
// real SMTP server and sends it to Telegram as a photo, an independent decoder (zbarimg)
// reads both PNGs back to the code's string, and paying that string settles the top-up
// — once, less the gateway's fee.
#include <regex>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "integration/sandbox.hpp"
#include "integration/sink.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

TEST(QrisTest, AnEmailedCodeDecodedIndependentlyAndPaidSettlesTheTopUpOnce) {
  TempDir dir;
  make_ca(dir);
  make_server_cert(dir, "smtp", "IP:127.0.0.1");
  const int smtp_port = free_port();
  Process smtp({TOPUPD_PYTHON, TOPUPD_SOURCE_DIR "/tests/integration/peers/smtp_server.py", std::to_string(smtp_port),
                dir.file("smtp.pem"), dir.file("smtp.key"), "topupd", "mail-password", dir.file("mail.jsonl")},
               {}, dir.file("smtp.log"));
  wait_for_line(dir.file("smtp.log"), R"(smtp listening on (\d+))", 15s, &smtp);
  Sink telegram;
  const int webhook_port = free_port();
  Sandbox sandbox(fmt::format(R"(
gateways:
  xendit:
    secret_key: xnd_development_qris
    callback_token: xendit-qris-token
    webhook_url: http://127.0.0.1:{}/webhooks/xendit
    qris_fee: 0.7%
    settle_after: 100ms
    accounts:
      master: {{balance: IDR 40_000_000}}
)",
                              webhook_port));
  Daemon daemon(fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
log: {{level: debug}}
store: {{sqlite: "{}"}}
control: {{socket: "{}"}}
webhooks: {{listen: "127.0.0.1:{}"}}
providers:
  xendit:
    type: xendit
    base_url: {}
    api_key: xnd_development_qris
    webhook: {{callback_token: xendit-qris-token}}
accounts:
  xendit-cash: {{provider: xendit, id: master, currency: IDR, poll: {{every: 200ms, timeout: 2s, jitter: 0%}}}}
rules:
  - name: xendit-low
    account: xendit-cash
    when: {{below: IDR 50_000_000}}
    clear: {{above: IDR 60_000_000}}
    alert: {{severity: warning, notify: [mail, tg]}}
    top_up:
      method: deposit
      to: {{xendit_qris: {{expires_after: 30m, fee: 0.7%}}}}
      pay_with: assisted
      amount: {{to_target: IDR 100_000_000, round_up_to: IDR 1_000_000}}
      limits: {{cooldown: 1h}}
notifiers:
  mail: {{type: email, smtp: "smtp://127.0.0.1:{}", starttls: required, username: topupd, password: mail-password,
          from: topupd@example.com, to: [finance@example.com], ca_file: "{}"}}
  tg: {{type: telegram, bot_token: "123456:secret-token", chat_id: "-100123", api_url: "{}"}}
)",
                            dir.file("topupd.db"), dir.file("control.sock"), webhook_port, sandbox.url(), smtp_port,
                            dir.file("ca.pem"), telegram.url()));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const std::string code_id = wait_for_line(
      daemon.log_path(), R"(DepositTicketToPay: please scan and pay QRIS code (qr_\w+) for exactly IDR 60,000,000\.00)");

  // topupctl draws the code in the terminal and prints its string.
  const auto tickets = topupctl(dir.file("control.sock"), {"tickets"});
  EXPECT_NE(tickets.output.find("pay exactly IDR 60,000,000.00 with QRIS code " + code_id), std::string::npos)
      << tickets.output;
  EXPECT_NE(tickets.output.find("\u2588"), std::string::npos) << tickets.output;

  // The e-mail carries the code as an inline PNG; zbarimg reads it back.
  std::string data;
  ASSERT_TRUE(eventually([&] {
    const std::string mails = read_file(dir.file("mail.jsonl"));
    for (std::size_t at = 0; at < mails.size();) {
      const auto end = mails.find('\n', at);
      auto line = adapters::json::parse(mails.substr(at, end - at));
      if (line && line->string_at("data") && line->string_at("data")->find("qris-0@topupd") != std::string::npos) {
        data = *line->string_at("data");
        return true;
      }
      if (end == std::string::npos) break;
      at = end + 1;
    }
    return false;
  }, 15s)) << daemon.log() << read_file(dir.file("smtp.log"));
  EXPECT_NE(data.find("Content-Type: multipart/related"), std::string::npos) << data;
  // A base64 part of the message, after the header line `marker`.
  const auto part = [&](const std::string& marker) -> std::string {
    const auto header = data.find(marker);
    if (header == std::string::npos) return "";
    const auto start = data.find("\r\n\r\n", header) + 4;
    std::string encoded = data.substr(start, data.find("\r\n--", start) - start);
    std::erase_if(encoded, [](char c) { return c == '\r' || c == '\n'; });
    return adapters::crypto::unbase64(encoded).value_or("");
  };
  EXPECT_NE(part("Content-Type: text/html").find("<img src=\"cid:qris-0@topupd\""), std::string::npos)
      << "the HTML part shows the image";
  const std::string png = part("Content-ID: <qris-0@topupd>");
  ASSERT_EQ(png.rfind("\x89PNG", 0), 0u) << data;
  dir.write("qris.png", png);
  const auto decoded = run_command({TOPUPD_ZBARIMG, "--quiet", "--raw", dir.file("qris.png")});
  ASSERT_EQ(decoded.status, 0) << decoded.output;
  // zbarimg may say more on stderr (no D-Bus here): the code is the line that is one.
  std::smatch match;
  ASSERT_TRUE(std::regex_search(decoded.output, match, std::regex(R"((000201010212\w[^\r\n]*))"))) << decoded.output;
  const std::string qr_string = match[1];
  EXPECT_NE(tickets.output.find(qr_string), std::string::npos) << "the same string topupctl printed";

  // Telegram: the message, then the code as a photo that decodes to the same string.
  adapters::net::ServerRequest photo;
  ASSERT_TRUE(eventually([&] {
    for (const auto& r : telegram.accepted()) {
      if (r.path == "/bot123456:secret-token/sendPhoto") photo = r;
    }
    return !photo.body.empty();
  }, 15s)) << daemon.log();
  EXPECT_EQ(photo.header("Content-Type").value_or("").rfind("multipart/form-data; boundary=", 0), 0u);
  const auto image_at = photo.body.find("Content-Type: image/png\r\n\r\n");
  ASSERT_NE(image_at, std::string::npos);
  const auto image_start = image_at + 27;
  dir.write("telegram.png", photo.body.substr(image_start, photo.body.rfind("\r\n--") - image_start));
  const auto from_telegram = run_command({TOPUPD_ZBARIMG, "--quiet", "--raw", dir.file("telegram.png")});
  EXPECT_NE(from_telegram.output.find(qr_string), std::string::npos) << from_telegram.output;
  EXPECT_TRUE(ledger_entries(sandbox).empty()) << "nobody paid yet";

  // A forged payment callback is refused and changes nothing.
  const auto callback = [&](const std::string& token, const std::string& payment) {
    return http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/xendit",
                        fmt::format(R"({{"event":"qr.payment","api_version":"2022-07-31","data":{{"id":"{}",)"
                                    R"("qr_id":"{}","reference_id":"{}","amount":60000000,"status":"SUCCEEDED"}}}})",
                                    payment, code_id, "k"),
                        {{"Content-Type", "application/json"}, {"x-callback-token", token}});
  };
  EXPECT_EQ(callback("guessed-token", "qrpy_forged").status, 401);

  // A person's app pays the decoded string: Xendit keeps 0.7 %, the rest lands.
  ASSERT_EQ(sandbox.post("/_sandbox/pay", R"({"qr_string":")" + qr_string + R"("})").status, 200) << sandbox.ledger();
  const std::string payment =
      wait_for_line(daemon.log_path(), R"(top-up succeeded: looked up after webhook qrpy:(qrpy_\w+))");
  wait_for_line(daemon.log_path(), R"(QRIS code qr_\w+ for IDR 60,000,000\.00 is (paid))");
  ASSERT_TRUE(eventually([&] { return daemon.log().find("top-up reflected in the balance") != std::string::npos; }, 10s))
      << daemon.log();
  EXPECT_EQ(sandbox.post("/_sandbox/pay", R"({"qr_string":")" + qr_string + R"("})").status, 409);  // single use
  // The genuine callback delivered again is a repeat: taken, and nothing changes.
  const auto repeat = http_request(
      "POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/xendit",
      fmt::format(R"({{"event":"qr.payment","api_version":"2022-07-31","data":{{"id":"{}","qr_id":"{}",)"
                  R"("reference_id":"{}","amount":60000000,"status":"SUCCEEDED"}}}})",
                  payment, code_id, wait_for_line(daemon.log_path(), R"(ticket issued: QRIS code .* topup=(\S+))")),
      {{"Content-Type", "application/json"}, {"x-callback-token", "xendit-qris-token"}});
  EXPECT_EQ(repeat.status, 200);
  std::this_thread::sleep_for(500ms);
  const std::string log = daemon.log();
  EXPECT_EQ(log.find("is paid"), log.rfind("is paid")) << "the ticket was closed once" << log;
  const auto entries = ledger_entries(sandbox);
  ASSERT_EQ(entries.size(), 1u) << sandbox.ledger();
  EXPECT_EQ(entries[0].key, "qr:" + code_id);
  EXPECT_EQ(entries[0].source, "person");
  EXPECT_EQ(entries[0].amount_minor, 59'580'000'00);  // IDR 60,000,000 less 0.7 %
  EXPECT_EQ(daemon.metric("topupd_topups_total", {R"(method="deposit")", R"(outcome="succeeded")"}), 1.0)
      << daemon.metrics();
}

}  // namespace
}  // namespace topupd::testing
