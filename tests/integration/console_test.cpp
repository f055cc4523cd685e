// The web console in a real browser (tests/integration/peers/console_browser.js drives
// Debian's Chromium with playwright-core): sign-in, the overview and its chart, a top-up
// above dual_approval_above approved by two people and then sent once — the sandbox's
// ledger is the witness — viewers and forged forms refused, throttled passwords, an
// idle session ended, and markup in names and reasons shown as text. Screenshots of
// every page are kept in build/…/console-screenshots.
#include <csignal>
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "topupd/adapters/auth/credentials.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/net/http.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kSource = TOPUPD_SOURCE_DIR;
constexpr const char* kPassword = "correct horse battery";

std::string console_config(const TempDir& dir) {
  return fmt::format(R"(http: {{listen: 127.0.0.1:0}}
log: {{level: info}}
store: {{sqlite: "{0}/topupd.db"}}
control: {{socket: "{0}/control.sock"}}
console: {{listen: 127.0.0.1:0, url: "http://127.0.0.1", session_idle: 10s, session_max: 1h}}
providers:
  sim:
    type: sandbox
    settle_after: 100ms
    accounts:
      payout: {{balance: IDR 90_000, drain_per_minute: IDR 6_000}}
      "<script>alert(1)</script>": {{balance: IDR 500_000}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 200ms, timeout: 1s, jitter: 0%}}}}
  "<script>alert(1)</script>": {{provider: sim, currency: IDR, poll: {{every: 1s}}}}
notifiers:
  finance: {{type: log}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    alert: {{notify: [finance]}}
    top_up:
      method: direct_debit
      from_account: "1234567890"
      amount: {{to_target: IDR 200_000}}
      limits: {{approval_above: IDR 100_000, dual_approval_above: IDR 100_000}}
)",
                     dir.path());
}

CommandResult add_user(const TempDir& dir, const std::string& name, const std::string& role) {
  const std::string input = "password-" + name;
  dir.write(input, std::string(kPassword) + "\n");
  return run_command({TOPUPCTL_BINARY, "--socket", dir.file("control.sock"), "user", "add", name, "--role", role},
                     dir.file(input));
}

TEST(ConsoleTest, FinanceApprovesWithFourEyesInARealBrowserAndTheMoneyMovesOnce) {
  TempDir dir;
  Daemon daemon(console_config(dir));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_GT(daemon.console_port(), 0) << daemon.log();
  for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
           {"ana", "approver"}, {"budi", "approver"}, {"vera", "viewer"}, {"adm", "admin"}, {"ida", "admin"}}) {
    const auto added = add_user(dir, name, role);
    ASSERT_EQ(added.status, 0) << added.output;
  }
  const auto silenced = topupctl(dir.file("control.sock"),
                                 {"silence", "<script>alert(1)</script>", "--for", "1h", "--reason", "<script>alert(2)</script>"});
  ASSERT_EQ(silenced.status, 0) << silenced.output;

  std::string key;
  ASSERT_TRUE(eventually(
      [&] {
        const auto waiting = topupctl(dir.file("control.sock"), {"--json", "history", "--state", "awaiting_approval"});
        std::smatch match;
        if (!std::regex_search(waiting.output, match, std::regex(R"#("key":"([^"]+)")#"))) return false;
        key = match[1];
        return true;
      },
      15s))
      << daemon.log();

  const std::string artifacts = std::filesystem::current_path().string() + "/console-screenshots";
  std::filesystem::create_directories(artifacts);
  const auto browser = run_command(
      {TOPUPD_NODE, kSource + "/tests/integration/peers/console_browser.js"}, "/dev/null",
      {{"CONSOLE_URL", fmt::format("http://127.0.0.1:{}", daemon.console_port())},
       {"ARTIFACTS", artifacts},
       {"TOPUP_KEY", key},
       {"PASSWORD", kPassword},
       {"IDLE_SECONDS", "10"},
       {"CHROMIUM", TOPUPD_CHROMIUM},
       {"NODE_PATH", kSource + "/node_modules"}},
      // About 35 s on an idle machine; twice that beside a parallel ASan suite on two cores.
      std::chrono::seconds(140));
  ASSERT_EQ(browser.status, 0) << browser.output << "\n" << daemon.log();
  for (const char* page : {"login", "overview", "top-ups", "approvals", "top-up-waiting", "top-up-succeeded", "alerts",
                           "audit", "users"}) {
    EXPECT_GT(std::filesystem::file_size(artifacts + "/" + page + ".png"), 1000u) << page;
  }

  // The sandbox's ledger: the approved top-up moved money exactly once.
  const std::string ledger = daemon.get("/sandbox/ledger").body;
  std::size_t times = 0;
  for (auto at = ledger.find("\"" + key + "\""); at != std::string::npos; at = ledger.find("\"" + key + "\"", at + 1)) {
    ++times;
  }
  EXPECT_EQ(times, 1u) << ledger;
  // Who did what is in the audit log, and the lockout was counted.
  const auto audit = topupctl(dir.file("control.sock"), {"audit", "--csv"});
  EXPECT_NE(audit.output.find("console:ana,approve," + key), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:budi,approve," + key), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("login locked,adm until"), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:vera,refused"), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:ida,user add,tono role=viewer"), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:ida,user remove,tono"), std::string::npos) << audit.output;
  EXPECT_GE(daemon.metric("topupd_console_logins_total", {R"(outcome="locked")"}).value_or(0), 1);
  EXPECT_GE(daemon.metric("topupd_console_logins_total", {R"(outcome="failed")"}).value_or(0), 6);
  EXPECT_EQ(daemon.log().find(kPassword), std::string::npos);
  // The notification about the waiting top-up linked to its page in the console.
  EXPECT_NE(daemon.log().find("approve=http://127.0.0.1/top-ups/" + key), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace topupd::testing

namespace topupd::testing {
namespace {

std::string header_of(const HttpResult& r, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(r.head, match, std::regex("\r\n" + name + ": ([^\r]*)", std::regex::icase))) return "";
  return match[1];
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) out += (out.empty() ? "" : "&") + name + "=" + adapters::net::url_encode(value);
  return out;
}

const std::vector<std::pair<std::string, std::string>> kForm = {
    {"Content-Type", "application/x-www-form-urlencoded"}};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Local sign-in over plain HTTP: the headers every page carries, the session cookie's
// attributes, a second factor asked at login and again at each approval, and a code
// that is never accepted twice.
TEST(ConsoleTest, OneTimeCodesAtLoginAndAtEachApprovalAndTheHeadersOfEveryPage) {
  TempDir dir;
  Daemon daemon(console_config(dir));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const int port = daemon.console_port();
  ASSERT_EQ(add_user(dir, "ana", "approver").status, 0);
  const auto enrolled = topupctl(dir.file("control.sock"), {"user", "totp", "ana"});
  std::smatch match;
  ASSERT_TRUE(std::regex_search(enrolled.output, match, std::regex("secret=([A-Z2-7]+)&"))) << enrolled.output;
  const std::string secret = *adapters::crypto::unbase32(match[1].str());
  std::string key;
  ASSERT_TRUE(eventually(
      [&] {
        const auto waiting = topupctl(dir.file("control.sock"), {"--json", "history", "--state", "awaiting_approval"});
        std::smatch found;
        if (!std::regex_search(waiting.output, found, std::regex(R"#("key":"([^"]+)")#"))) return false;
        key = found[1];
        return true;
      },
      15s));

  const auto sign_in = [&](const std::string& code) {
    return http_request("POST", "127.0.0.1", port, "/login",
                        form({{"user", "ana"}, {"password", kPassword}, {"code", code}}), kForm);
  };
  const auto without_code = sign_in("");
  EXPECT_EQ(without_code.status, 401);
  const std::int64_t now = unix_now();
  const std::string code = adapters::auth::totp_code(secret, now);
  const auto signed_in = sign_in(code);
  ASSERT_EQ(signed_in.status, 303) << signed_in.body;
  const std::string cookie = header_of(signed_in, "Set-Cookie");
  EXPECT_EQ(cookie.rfind("__Host-topupd_session=", 0), 0u) << cookie;
  for (const char* attribute : {"; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"}) {
    EXPECT_NE(cookie.find(attribute), std::string::npos) << attribute << " in " << cookie;
  }
  EXPECT_EQ(sign_in(code).status, 401) << "a used code is not accepted twice";
  const std::vector<std::pair<std::string, std::string>> session = {{"Cookie", cookie.substr(0, cookie.find(';'))}};

  const auto overview = http_request("GET", "127.0.0.1", port, "/", "", session);
  ASSERT_EQ(overview.status, 200) << overview.body;
  EXPECT_NE(header_of(overview, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_NE(header_of(overview, "Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(header_of(overview, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header_of(overview, "Cache-Control"), "no-store");
  EXPECT_EQ(overview.body.find("<script>alert(1)</script>"), std::string::npos) << "a name is escaped";
  EXPECT_NE(overview.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  ASSERT_TRUE(std::regex_search(overview.body, match, std::regex(R"#(name="csrf" value="([^"]+)")#")));
  const std::string csrf = match[1];

  const auto approve = [&](const std::string& with) {
    return http_request("POST", "127.0.0.1", port, "/approvals/" + key + "/approve",
                        form({{"csrf", csrf}, {"code", with}}), [&] {
                          auto h = session;
                          h.insert(h.end(), kForm.begin(), kForm.end());
                          return h;
                        }());
  };
  const auto page_of = [&] { return http_request("GET", "127.0.0.1", port, "/top-ups/" + key, "", session).body; };
  EXPECT_EQ(approve("").status, 303);
  EXPECT_NE(page_of().find("0 of 2 needed"), std::string::npos) << "no code, no approval";
  EXPECT_EQ(approve(code).status, 303);
  EXPECT_NE(page_of().find("0 of 2 needed"), std::string::npos) << "the login's code is used";
  EXPECT_EQ(approve(adapters::auth::totp_code(secret, now + 30)).status, 303);
  EXPECT_NE(page_of().find("1 of 2 needed (ana)"), std::string::npos) << page_of();
  // An approver acknowledges the firing alert, and lifts it again.
  const auto post = [&](const std::string& path, const std::vector<std::pair<std::string, std::string>>& fields) {
    auto headers = session;
    headers.insert(headers.end(), kForm.begin(), kForm.end());
    auto all = fields;
    all.emplace_back("csrf", csrf);
    return http_request("POST", "127.0.0.1", port, path, form(all), headers);
  };
  EXPECT_EQ(post("/alerts/silence", {{"target", "payout-low"}, {"kind", "ack"}, {"duration", "2h"}, {"reason", "on it"}})
                .status,
            303);
  const auto acked = topupctl(dir.file("control.sock"), {"--json", "status"});
  EXPECT_NE(acked.output.find(R"("target":"payout-low","kind":"ack","reason":"on it")"), std::string::npos)
      << acked.output;
  EXPECT_NE(http_request("GET", "127.0.0.1", port, "/alerts", "", session).body.find("on it"), std::string::npos);
  EXPECT_EQ(post("/alerts/unsilence", {{"target", "payout-low"}}).status, 303);
  EXPECT_EQ(topupctl(dir.file("control.sock"), {"--json", "status"}).output.find(R"("kind":"ack")"), std::string::npos);
  EXPECT_EQ(post("/pause", {}).status, 403) << "an approver does not pause";

  const auto audit = topupctl(dir.file("control.sock"), {"audit", "--csv"});
  EXPECT_NE(audit.output.find("console:ana,ack,payout-low for 2h: on it"), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:ana,unsilence,payout-low"), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:ana,approve refused," + key + ": wrong or used one-time code"),
            std::string::npos)
      << audit.output;
}

std::string proxy_config(const TempDir& dir, const std::string& trusted) {
  std::string config = console_config(dir);
  const std::string local = "session_idle: 10s, session_max: 1h}";
  config.replace(config.find(local), local.size(),
                 "session_idle: 10s, session_max: 1h, auth: {proxy: {trusted_proxies: [" + trusted +
                     "], roles: {finance: approver, staff: viewer}}}}");
  return config;
}

// Identity from an auth proxy: believed only from its listed addresses, mapped to a
// role by group, and never from anyone else.
TEST(ConsoleTest, AnAuthProxysIdentityIsBelievedOnlyFromItsAddresses) {
  TempDir dir;
  Daemon daemon(proxy_config(dir, "127.0.0.1/32"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const int port = daemon.console_port();
  const auto as = [&](const std::string& email, const std::string& groups) {
    return http_request("GET", "127.0.0.1", port, "/approvals", "",
                        {{"X-Forwarded-Email", email}, {"X-Forwarded-Groups", groups}});
  };
  const auto citra = as("citra@example.com", "staff, finance");
  EXPECT_EQ(citra.status, 200);
  EXPECT_NE(citra.body.find("citra@example.com</span> (approver)"), std::string::npos) << citra.body;
  const auto dewi = as("dewi@example.com", "staff");
  EXPECT_EQ(dewi.status, 200);
  EXPECT_NE(dewi.body.find("(viewer)"), std::string::npos);
  EXPECT_EQ(as("eko@example.com", "marketing").status, 401) << "no group maps to a role";
  EXPECT_EQ(http_get("127.0.0.1", port, "/").status, 401) << "no identity";
  EXPECT_EQ(http_request("POST", "127.0.0.1", port, "/login", "user=ana&password=x", kForm).status, 401)
      << "no local sign-in behind a proxy";

  TempDir other;
  Daemon strict(proxy_config(other, "10.9.9.9/32"));
  ASSERT_TRUE(strict.wait_ready()) << strict.log();
  EXPECT_EQ(http_request("GET", "127.0.0.1", strict.console_port(), "/", "",
                         {{"X-Forwarded-Email", "citra@example.com"}, {"X-Forwarded-Groups", "finance"}})
                .status,
            401)
      << "the headers of a client that is not the proxy are not read";
}

}  // namespace
}  // namespace topupd::testing
