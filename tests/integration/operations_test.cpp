// The operational files shipped with topupd, checked by the tools that consume them.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "integration/harness.hpp"
#include "integration/prometheus.hpp"
#include "integration/sandbox.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http.hpp"

namespace topupd::testing {
namespace {

const std::string kSource = TOPUPD_SOURCE_DIR;

TEST(PrometheusRules, AreValidAndTheirUnitTestsPass) {
  const auto check = run_command({TOPUPD_PROMTOOL, "check", "rules", kSource + "/etc/prometheus/topupd-rules.yml"});
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("SUCCESS: 11 rules found"), std::string::npos) << check.output;
  // promtool resolves rule_files relative to the test file.
  const auto unit = run_command({TOPUPD_PROMTOOL, "test", "rules", kSource + "/etc/prometheus/topupd-rules.test.yml"});
  EXPECT_EQ(unit.status, 0) << unit.output;
  EXPECT_NE(unit.output.find("SUCCESS"), std::string::npos) << unit.output;
}

// `unit` with /usr/bin/topupd replaced by `binary` (verify needs ExecStart to exist).
std::string with_binary(std::string unit, const std::string& binary) {
  const std::string installed = "/usr/bin/topupd";
  for (auto at = unit.find(installed); at != std::string::npos; at = unit.find(installed, at + binary.size())) {
    unit.replace(at, installed.size(), binary);
  }
  return unit;
}

// The unit from the source tree, pointed at the built binary.
std::string unit_for_test(const TempDir& dir) {
  dir.write("topupd.service", with_binary(read_file(kSource + "/systemd/topupd.service"), TOPUPD_BINARY));
  return dir.file("topupd.service");
}

TEST(SystemdUnit, VerifiesCleanly) {
  TempDir dir;
  const auto verify = run_command({TOPUPD_SYSTEMD_ANALYZE, "verify", "--man=no", unit_for_test(dir)});
  EXPECT_EQ(verify.status, 0) << verify.output;
  EXPECT_EQ(verify.output, "") << "any warning is a defect";
}

TEST(SystemdUnit, ScoresAtMostOnePointFiveForExposure) {
  TempDir dir;
  // --threshold counts tenths: exit status 0 only at 1.5 or below.
  const auto security = run_command({TOPUPD_SYSTEMD_ANALYZE, "security", "--offline=yes", "--threshold=15",
                                     "--no-pager", unit_for_test(dir)});
  EXPECT_EQ(security.status, 0) << security.output;
  EXPECT_TRUE(std::regex_search(security.output, std::regex(R"(Overall exposure level for topupd\.service: (0\.\d|1\.[0-5]) )")))
      << security.output;
  const std::string unit = read_file(kSource + "/systemd/topupd.service");
  for (const char* setting : {"Type=notify", "WatchdogSec=", "ExecStartPre=/usr/bin/topupd check", "ExecReload=",
                              "Restart=on-failure", "DynamicUser=yes", "StateDirectory=topupd", "RuntimeDirectory=topupd",
                              "LoadCredential="}) {
    EXPECT_NE(unit.find(setting), std::string::npos) << setting;
  }
}

// The unit's allocator setting is one this glibc reads: a misspelt or out-of-range
// tunable would be ignored without a word.
TEST(SystemdUnit, TunesTheAllocatorAsThisGlibcUnderstandsIt) {
  const std::string unit = read_file(kSource + "/systemd/topupd.service");
  std::vector<std::string> argv{"/usr/bin/env"};
  std::istringstream lines(unit);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Environment=", 0) == 0) argv.push_back(line.substr(std::string("Environment=").size()));
  }
  ASSERT_EQ(argv.size(), 2u) << unit;
  argv.push_back("/lib64/ld-linux-x86-64.so.2");
  argv.push_back("--list-tunables");
  const auto tunables = run_command(argv);
  ASSERT_EQ(tunables.status, 0) << tunables.output;
  EXPECT_NE(tunables.output.find("glibc.malloc.tcache_count: 0x3e8 "), std::string::npos) << tunables.output;
}

// The .deb of this build (the release one comes from `make deb`): what it installs
// where, its conffile, its dependencies, and no lintian error.
TEST(DebianPackage, InstallsEverythingAndPassesLintian) {
  TempDir dir;
  const auto cpack = run_command({TOPUPD_CPACK, "-G", "DEB", "--config", TOPUPD_CPACK_CONFIG, "-B", dir.path()});
  ASSERT_EQ(cpack.status, 0) << cpack.output;
  const std::string deb = dir.file("topupd_" + std::string(TOPUPD_PACKAGE_VERSION) + "-1_amd64.deb");
  const auto contents = run_command({"/usr/bin/dpkg-deb", "--contents", deb});
  ASSERT_EQ(contents.status, 0) << contents.output;
  for (const char* path : {"./usr/bin/topupd", "./usr/bin/topupctl", "./lib/systemd/system/topupd.service",
                           "./etc/topupd/topupd.yaml", "./etc/topupd/credentials/",
                           "./usr/share/topupd/topupd.schema.json", "./usr/share/topupd/openapi.yaml",
                           "./usr/share/topupd/dashboards/topupd-overview.json",
                           "./usr/share/topupd/dashboards/provisioning.yaml",
                           "./usr/share/topupd/prometheus/topupd-rules.yml", "./usr/share/man/man8/topupd.8.gz",
                           "./usr/share/man/man1/topupctl.1.gz", "./usr/share/doc/topupd/copyright",
                           "./usr/share/doc/topupd/examples/stripe-direct-debit.yaml"}) {
    EXPECT_NE(contents.output.find(std::string(path) + "\n"), std::string::npos) << path << "\n" << contents.output;
  }
  EXPECT_NE(contents.output.find("drwx------ root/root         0"), std::string::npos) << "credentials are root's only";
  const auto conffiles = run_command({"/bin/sh", "-c", "/usr/bin/dpkg-deb --ctrl-tarfile '" + deb + "' | tar -xO ./conffiles"});
  EXPECT_EQ(conffiles.output, "/etc/topupd/topupd.yaml\n") << "an upgrade never overwrites the configuration";
  const auto depends = run_command({"/usr/bin/dpkg-deb", "--field", deb, "Depends"});
  for (const char* library : {"libcurl4", "libsqlite3-0", "libssl3", "libsystemd0", "libyaml-cpp0.7"}) {
    EXPECT_NE(depends.output.find(library), std::string::npos) << depends.output;
  }
  const auto lintian = run_command({TOPUPD_LINTIAN, "--fail-on", "error", deb});
  EXPECT_EQ(lintian.status, 0) << lintian.output;
  EXPECT_EQ(lintian.output.find("\nE: "), std::string::npos) << lintian.output;

  // The packaged unit verifies against the packaged binary, and that binary runs.
  const std::string root = dir.file("root");
  ASSERT_EQ(run_command({"/usr/bin/dpkg-deb", "-x", deb, root}).status, 0);
  dir.write("topupd.service", with_binary(read_file(root + "/lib/systemd/system/topupd.service"), root + "/usr/bin/topupd"));
  const auto verify = run_command({TOPUPD_SYSTEMD_ANALYZE, "verify", "--man=no", dir.file("topupd.service")});
  EXPECT_EQ(verify.status, 0) << verify.output;
  EXPECT_EQ(verify.output, "") << verify.output;
  const auto version = run_command({root + "/usr/bin/topupd", "--version"});
  EXPECT_EQ(version.output.rfind("topupd " + std::string(TOPUPD_PACKAGE_VERSION) + " (git ", 0), 0u) << version.output;
  const auto check = run_command({root + "/usr/bin/topupd", "check", "--config", root + "/etc/topupd/topupd.yaml"});
  EXPECT_EQ(check.status, 0) << "the installed configuration is valid: " << check.output;
}

TEST(Dashboards, PassTheLintRules) {
  const auto lint = run_command({TOPUPD_NODE, kSource + "/scripts/lint-dashboards.mjs", kSource + "/dashboards"});
  EXPECT_EQ(lint.status, 0) << lint.output;
}

// Every panel's query, with Grafana's macros replaced, evaluated by a real Prometheus
// that scraped topupd running a scenario that produces every series: a top-up that
// settles and one that never shows in the balance, alerts, failing polls, a runway, a
// refused webhook and delivered notifications.
TEST(Dashboards, EveryPanelQueryReturnsDataFromARealPrometheus) {
  using namespace std::chrono_literals;
  Daemon daemon(R"(
http: {listen: 127.0.0.1:0}
webhooks: {listen: 127.0.0.1:0}
providers:
  sim:
    type: sandbox
    settle_after: 300ms
    accounts:
      payout: {balance: IDR 90_000, drain_per_minute: IDR 60_000, fail: 30%}
  phantom:
    type: sandbox
    settle_after: 300ms
    faults: {phantom_credits: 100%}
    accounts:
      wallet: {balance: IDR 10_000}
  stripe:
    type: stripe
    api_key: sk_test_unused
    webhook: {secret: whsec_dashboard}
accounts:
  payout: {provider: sim, currency: IDR, poll: {every: 200ms, timeout: 1s, jitter: 0%, max_backoff: 400ms}}
  wallet: {provider: phantom, currency: IDR, poll: {every: 200ms, timeout: 1s, jitter: 0%}}
notifiers:
  ops: {type: log}
rules:
  - name: payout-low
    account: payout
    when: {below: IDR 95_000}
    alert: {notify: [ops]}
    top_up: {method: direct_debit, from_account: "1", amount: {fixed: IDR 50_000}, limits: {cooldown: 1h, per_month: IDR 10_000_000}}
  - name: payout-watch
    account: payout
    when: {below: IDR 1_000_000_000}
    alert: {severity: info, notify: [ops]}
  - name: payout-runway
    account: payout
    when: {runway_below: 1h, window: 10s}
    alert: {notify: [ops]}
  - name: wallet-low
    account: wallet
    when: {below: IDR 20_000}
    alert: {notify: [ops]}
    top_up: {method: direct_debit, from_account: "1", amount: {fixed: IDR 5_000}, verify: {within: 1s}, limits: {cooldown: 1h}}
)");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/stripe", R"({"id":"evt_forged"})",
               {{"Content-Type", "application/json"}, {"Stripe-Signature", "t=1,v1=00"}});
  Prometheus prometheus(daemon.admin_port());
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.log();
  // Enough scrapes for rates over the 10 s that stands in for $__rate_interval.
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_topups_not_reflected_total", {"wallet-low"}).value_or(0) > 0; }, 20s))
      << daemon.log();
  std::this_thread::sleep_for(12s);

  const auto answers = prometheus.ask_every_panel(kSource + "/dashboards/topupd-overview.json");
  for (const auto& answer : answers) {
    EXPECT_TRUE(answer.has_data) << answer.title << ": " << answer.query << " → " << answer.body;
  }
  EXPECT_EQ(answers.size(), 29u);
}

// Every `from` in `text` replaced by `to`; false when `from` is not there.
bool replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (text.find(from) == std::string::npos) return false;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return true;
}

// `make demo-observe`: the stand-alone sandbox on etc/topupd/demo-sandbox.yaml and the
// daemon on etc/topupd/demo-gateways.yaml (only their addresses and key paths changed),
// scraped by a real Prometheus. Every panel has data within two minutes, as a newcomer
// finds it.
TEST(Dashboards, EveryPanelHasDataWithinTwoMinutesOfTheObservedDemo) {
  using namespace std::chrono_literals;
  const int webhook_port = free_port();
  TempDir keys;  // what the Makefile makes in build/demo-keys
  make_key_pair(keys, "client");
  make_key_pair(keys, "sandbox");
  keys.write("snap-private-key", read_file(keys.file("client.key")));
  keys.write("snap-bank-public-key", read_file(keys.file("sandbox.pub")));
  std::string sandbox_config = read_file(kSource + "/etc/topupd/demo-sandbox.yaml");
  ASSERT_TRUE(replace_all(sandbox_config, "build/demo-keys", keys.path()));
  ASSERT_TRUE(replace_all(sandbox_config, "127.0.0.1:9465", fmt::format("127.0.0.1:{}", webhook_port)));
  Sandbox sandbox(sandbox_config, {"--webhooks", fmt::format("http://127.0.0.1:{}/webhooks", webhook_port)});
  std::string config = read_file(kSource + "/etc/topupd/demo-gateways.yaml");
  const std::vector<std::pair<std::string, std::string>> addresses = {
      {"http://127.0.0.1:12111", sandbox.url()},
      {"127.0.0.1:9464", "127.0.0.1:0"},
      {"127.0.0.1:9465", fmt::format("127.0.0.1:{}", webhook_port)}};
  for (const auto& [from, to] : addresses) ASSERT_TRUE(replace_all(config, from, to)) << from;
  Daemon daemon(config, {{"CREDENTIALS_DIRECTORY", keys.path()}});
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto started = std::chrono::steady_clock::now();
  Prometheus prometheus(daemon.admin_port());
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.log();

  std::vector<Prometheus::Answer> answers;
  const bool all = eventually([&] {
    answers = prometheus.ask_every_panel(kSource + "/dashboards/topupd-overview.json");
    return std::all_of(answers.begin(), answers.end(), [](const auto& a) { return a.has_data; });
  }, 120s);
  const auto took = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  for (const auto& answer : answers) {
    EXPECT_TRUE(answer.has_data) << answer.title << ": " << answer.query << " → " << answer.body;
  }
  EXPECT_TRUE(all) << daemon.log();
  EXPECT_EQ(answers.size(), 29u);
  // And within the same two minutes the demo shows each kind of event for real: a
  // webhook acted on, a failed poll, a runway, a delivered notification, a deposit
  // paid by the bank, and Flip funded by a payout out of Xendit.
  std::string metrics;
  const bool seen = eventually([&] {
    metrics = daemon.metrics();
    return sample(metrics, "topupd_webhooks_total", {"stripe", "\"accepted\""}).value_or(0) >= 1 &&
           sample(metrics, "topupd_poll_errors_total", {"wallet"}).value_or(0) >= 1 &&
           sample(metrics, "topupd_runway_seconds", {"xendit-cash"}).has_value() &&
           sample(metrics, "topupd_notifications_total", {"ops-log", "delivered"}).value_or(0) >= 1 &&
           sample(metrics, "topupd_topups_total", {R"(method="deposit")", R"(outcome="succeeded")"}).value_or(0) >= 1 &&
           std::regex_search(daemon.log(), std::regex(R"(top-up succeeded[^\n]* topup=topupd-flip-low-flip-)"));
  }, std::chrono::duration_cast<std::chrono::milliseconds>(started + 120s - std::chrono::steady_clock::now()));
  EXPECT_TRUE(seen) << metrics << daemon.log();
  const auto events = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  std::printf("every panel had data %lld s, every kind of event %lld s after the daemon was ready\n",
              static_cast<long long>(took.count()), static_cast<long long>(events.count()));
}

}  // namespace
}  // namespace topupd::testing
