// The operational files shipped with topupd, checked by the tools that consume them.
#include <gtest/gtest.h>

#include <regex>

#include "integration/harness.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http.hpp"

namespace topupd::testing {
namespace {

const std::string kSource = TOPUPD_SOURCE_DIR;

TEST(PrometheusRules, AreValidAndTheirUnitTestsPass) {
  const auto check = run_command({TOPUPD_PROMTOOL, "check", "rules", kSource + "/etc/prometheus/topupd-rules.yml"});
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("SUCCESS: 9 rules found"), std::string::npos) << check.output;
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
                           "./usr/share/topupd/topupd.schema.json", "./usr/share/topupd/dashboards/topupd-overview.json",
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
    top_up: {method: direct_debit, from_account: "1", amount: {fixed: IDR 50_000}, limits: {cooldown: 1h}}
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
  TempDir dir;
  const int prometheus_port = free_port();
  dir.write("prometheus.yml", fmt::format(R"(
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: topupd
    static_configs: [{{targets: ["127.0.0.1:{}"]}}]
)",
                                          daemon.admin_port()));
  Process prometheus({TOPUPD_PROMETHEUS, "--config.file=" + dir.file("prometheus.yml"),
                      "--storage.tsdb.path=" + dir.file("data"),
                      "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                     {}, dir.file("prometheus.log"));
  ASSERT_TRUE(eventually([&] { return http_get("127.0.0.1", prometheus_port, "/-/ready").status == 200; }, 15s))
      << read_file(dir.file("prometheus.log"));
  // Enough scrapes for rates over the 10 s that stands in for $__rate_interval.
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_topups_not_reflected_total").has_value(); }, 20s))
      << daemon.log();
  std::this_thread::sleep_for(12s);

  auto dashboard = adapters::json::parse(read_file(kSource + "/dashboards/topupd-overview.json"));
  ASSERT_TRUE(dashboard);
  int checked = 0;
  for (const auto& panel : dashboard->find("panels")->items()) {
    const auto* targets = panel.find("targets");
    if (!targets) continue;
    for (const auto& target : targets->items()) {
      std::string expr = *target.string_at("expr");
      for (const auto& [macro, value] : std::vector<std::pair<std::string, std::string>>{
               {"$__rate_interval", "10s"}, {"$__range", "5m"}, {"$account", ".*"}}) {
        for (auto at = expr.find(macro); at != std::string::npos; at = expr.find(macro)) expr.replace(at, macro.size(), value);
      }
      SCOPED_TRACE(*panel.string_at("title") + ": " + expr);
      const auto answer = http_get("127.0.0.1", prometheus_port, "/api/v1/query?query=" + adapters::net::url_encode(expr));
      ASSERT_EQ(answer.status, 200) << answer.body;
      auto parsed = adapters::json::parse(answer.body);
      ASSERT_TRUE(parsed) << answer.body;
      EXPECT_EQ(parsed->string_at("status"), "success") << answer.body;
      const auto* result = parsed->at_pointer("/data/result");
      ASSERT_TRUE(result && result->is_array()) << answer.body;
      EXPECT_FALSE(result->items().empty()) << "no data: " << answer.body;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 20);
}

}  // namespace
}  // namespace topupd::testing
