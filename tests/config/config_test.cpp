#include "topupd/config/config.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace topupd::config {
namespace {

namespace fs = std::filesystem;

// Secrets from a fixed table: nothing from the real environment leaks into tests.
SecretSources fake_secrets(std::map<std::string, std::string> env,
                           std::map<std::string, std::string> files = {}) {
  SecretSources sources;
  sources.env = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  sources.read_file = [files](const std::string& path) -> std::optional<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  return sources;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const char* kMinimal = R"(providers:
  demo:
    type: sandbox
    accounts:
      payout: {balance: IDR 30_000_000}
accounts:
  payout: {provider: demo, currency: IDR}
rules:
  - name: payout-low
    account: payout
    when: {below: 10_000_000}
)";

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) out.push_back(d.to_string());
  return out;
}

// ---- the corpus of broken files --------------------------------------------------

struct Expected {
  int line;
  int column;
  std::string text;  // "FIELD: message prefix"
};

std::vector<Expected> expectations_of(const fs::path& file) {
  std::vector<Expected> out;
  std::istringstream lines(read(file));
  std::string line;
  const std::regex pattern(R"(^# expect: (\d+):(\d+): (.*)$)");
  while (std::getline(lines, line)) {
    std::smatch match;
    if (std::regex_match(line, match, pattern)) {
      out.push_back({std::stoi(match[1]), std::stoi(match[2]), match[3]});
    }
  }
  return out;
}

class BrokenConfigTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BrokenConfigTest, ReportsExactlyTheExpectedProblemsAtTheirPlaces) {
  const fs::path file = fs::path(TOPUPD_TEST_DATA_DIR) / "config" / "bad" / GetParam();
  const auto expected = expectations_of(file);
  ASSERT_FALSE(expected.empty()) << file << " has no '# expect:' lines";

  const LoadResult result = load_file(file.string(), fake_secrets({}));
  EXPECT_FALSE(result.config.has_value());
  ASSERT_EQ(result.diagnostics.size(), expected.size()) << ::testing::PrintToString(messages(result));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Diagnostic& d = result.diagnostics[i];
    SCOPED_TRACE(d.to_string());
    EXPECT_EQ(d.file, file.string());
    EXPECT_EQ(d.at.line, expected[i].line);
    EXPECT_EQ(d.at.column, expected[i].column);
    const std::string text = d.field.empty() ? d.message : d.field + ": " + d.message;
    EXPECT_EQ(text.substr(0, expected[i].text.size()), expected[i].text);
    // The printed form is what `topupd check` shows: FILE:LINE:COL: …
    EXPECT_EQ(d.to_string().rfind(fmt::format("{}:{}:{}: ", file.string(), d.at.line, d.at.column), 0), 0u);
  }
}

std::vector<std::string> broken_files() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fs::path(TOPUPD_TEST_DATA_DIR) / "config" / "bad")) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BrokenConfigTest, ::testing::ValuesIn(broken_files()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name = param_info.param.substr(0, param_info.param.size() - 5);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(BrokenConfigCorpusTest, CoversTheImportantMistakes) {
  EXPECT_GE(broken_files().size(), 20u);
}

// ---- valid files ----------------------------------------------------------------

TEST(ConfigTest, ShippedDemoConfigIsValid) {
  const auto result = load_file(std::string(TOPUPD_SOURCE_DIR) + "/etc/topupd/demo.yaml", fake_secrets({}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->accounts.size(), 6u);
  ASSERT_EQ(result.config->rules.size(), 6u);
  // The console, and a top-up that waits there for two approvers.
  EXPECT_TRUE(result.config->console.enabled);
  EXPECT_EQ(result.config->console.port, 9480);
  EXPECT_TRUE(result.config->rules[5].top_up->limits.dual_approval_above.has_value());
  EXPECT_EQ(result.config->rules[0].top_up->method, core::TopUpMethod::direct_debit);
  EXPECT_EQ(result.config->rules[1].when.kind, core::Condition::Kind::schedule);
  EXPECT_EQ(result.config->rules[1].top_up->method, core::TopUpMethod::sweep);
  // Two balances funded by virtual account: one paid by the company's account, one by a person.
  EXPECT_EQ(result.config->rules[2].top_up->method, core::TopUpMethod::deposit);
  EXPECT_EQ(result.config->rules[2].top_up->deposit->pay_with.kind, core::DepositPayment::Kind::snap_transfer);
  EXPECT_EQ(result.config->rules[3].top_up->deposit->pay_with.kind, core::DepositPayment::Kind::assisted);
  // And one by a QRIS code a person scans, which keeps Xendit's 0.7 % unless told otherwise.
  const core::DepositSpec& qris = *result.config->rules[4].top_up->deposit;
  EXPECT_EQ(qris.to.kind, core::DepositDestination::Kind::qris);
  EXPECT_EQ(qris.to.fee_basis_points, 70);
  EXPECT_EQ(qris.to.expires_after, std::chrono::minutes(10));
  EXPECT_EQ(qris.pay_with.kind, core::DepositPayment::Kind::assisted);
  EXPECT_EQ(result.config->zone.name(), "Asia/Jakarta");
}

TEST(ConfigTest, GoodCorpusFilesAreValid) {
  for (const auto& entry : fs::directory_iterator(fs::path(TOPUPD_TEST_DATA_DIR) / "config" / "good")) {
    SCOPED_TRACE(entry.path().string());
    const auto result = load_file(entry.path().string(), fake_secrets({}));
    EXPECT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  }
}

TEST(ConfigTest, AppliesDefaultsAndTheAccountCurrencyToPlainAmounts) {
  const auto result = load_string(kMinimal, "mem.yaml", fake_secrets({}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  const Config& config = *result.config;
  EXPECT_EQ(config.timezone, "UTC");
  EXPECT_FALSE(config.dry_run);
  EXPECT_EQ(config.http_host, "127.0.0.1");
  EXPECT_EQ(config.http_port, 9464);
  EXPECT_EQ(config.accounts[0].id, "payout");
  EXPECT_EQ(config.accounts[0].poll.every, std::chrono::seconds(30));
  EXPECT_EQ(config.accounts[0].poll.timeout, std::chrono::seconds(5));
  EXPECT_EQ(config.rules[0].when.threshold.minor(), 1'000'000'000);
  EXPECT_EQ(config.rules[0].when.threshold.currency().code(), "IDR");
}

TEST(ConfigTest, WarnsWhereAccountsAskForMoreReadsThanTheRateLimitAllows) {
  // Stripe: 60 reads a second against 50 (the default), at the provider; Flip: 2 accounts
  // every second against the 5 it allows, quiet; the embedded sandbox has no limit.
  std::string text = "providers:\n  stripe: {type: stripe, api_key: sk_test_x}\n"
                     "  flip:\n    type: flip\n    api_key: k\n    rate_limit: {per_second: 5}\n"
                     "  demo: {type: sandbox, accounts: {payout: {balance: IDR 1_000}}}\naccounts:\n";
  for (int i = 0; i < 30; ++i) text += fmt::format("  s{}: {{provider: stripe, currency: USD, poll: {{every: 500ms}}}}\n", i);
  text += "  f1: {provider: flip, currency: IDR, poll: {every: 1s}}\n  f2: {provider: flip, currency: IDR, poll: {every: 1s}}\n";
  for (int i = 0; i < 100; ++i) text += fmt::format("  d{}: {{provider: demo, id: payout, currency: IDR, poll: {{every: 10ms}}}}\n", i);
  auto result = load_string(text, "mem.yaml", fake_secrets({}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  auto warnings = capacity_warnings(*result.config);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].field, "providers.stripe.rate_limit.per_second");
  EXPECT_EQ(warnings[0].at.line, 2);  // the provider: the limit is not written
  EXPECT_NE(warnings[0].message.find("its 30 accounts ask for 60.0 balance reads per second"), std::string::npos)
      << warnings[0].message;
  EXPECT_NE(warnings[0].message.find("more than the 50 this process may send"), std::string::npos);

  // Flip at 1.5 a second against 1, at the limit as written; Stripe's raised: quiet.
  text.replace(text.find("per_second: 5"), 13, "per_second: 1");
  const std::string f2 = "f2: {provider: flip, currency: IDR, poll: {every: 1s}}";
  text.replace(text.find(f2), f2.size(), "f2: {provider: flip, currency: IDR, poll: {every: 2s}}");
  text.replace(text.find("api_key: sk_test_x}"), 19, "api_key: sk_test_x, rate_limit: {per_second: 60}}");
  result = load_string(text, "mem.yaml", fake_secrets({}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  warnings = capacity_warnings(*result.config);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].to_string().rfind("mem.yaml:6:", 0), 0u) << warnings[0].to_string();
  EXPECT_NE(warnings[0].message.find("its 2 accounts ask for 1.5 balance reads per second"), std::string::npos)
      << warnings[0].message;
}

TEST(ConfigTest, ParsesIpv6ListenAddress) {
  std::string text = std::string("http: {listen: \"[::1]:0\"}\n") + kMinimal;
  const auto result = load_string(text, "mem.yaml", fake_secrets({}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->http_host, "::1");
  EXPECT_EQ(result.config->http_port, 0);
}

TEST(ConfigTest, LongDigitRunsAreErrorsNotOverflows) {
  // Found by fuzzing: number fields kept accumulating digits they had already rejected.
  std::string text = kMinimal;
  text.replace(text.find("payout: {balance: IDR 30_000_000}"), std::string("payout: {balance: IDR 30_000_000}").size(),
               "payout: {balance: IDR 30_000_000, noise: 99999999999999999999999%}");
  text.replace(text.find("    type: sandbox"), std::string("    type: sandbox").size(),
               "    type: sandbox\n    seed: 99999999999999999999999999");
  const auto result = load_string(text, "mem.yaml", fake_secrets({}));
  ASSERT_EQ(result.diagnostics.size(), 2u) << ::testing::PrintToString(messages(result));
  EXPECT_NE(result.diagnostics[0].message.find("whole number"), std::string::npos);
  EXPECT_NE(result.diagnostics[1].message.find("percentage"), std::string::npos);
}

TEST(ConfigTest, EmptyFileIsAnError) {
  const auto result = load_string("", "empty.yaml", fake_secrets({}));
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_NE(result.diagnostics[0].message.find("empty"), std::string::npos);
}

TEST(ConfigTest, MissingFileNamesIt) {
  const auto result = load_file("/nonexistent/topupd.yaml", fake_secrets({}));
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_NE(result.diagnostics[0].to_string().find("/nonexistent/topupd.yaml: cannot open"), std::string::npos);
}

// ---- secret references ----------------------------------------------------------

std::string with_listen(const std::string& listen) {
  return "http: {listen: \"" + listen + "\"}\n" + kMinimal;
}

TEST(SecretReferenceTest, ExpandsEnvironmentVariables) {
  const auto result = load_string(with_listen("127.0.0.1:${env:PORT}"), "mem.yaml",
                                  fake_secrets({{"PORT", "9999"}}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->http_port, 9999);
}

TEST(SecretReferenceTest, ExpandsFilesWithoutTheirTrailingNewline) {
  const auto result = load_string(with_listen("${file:/run/secrets/listen}"), "mem.yaml",
                                  fake_secrets({}, {{"/run/secrets/listen", "127.0.0.1:7777\n"}}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->http_port, 7777);
}

TEST(SecretReferenceTest, ReadsSystemdCredentials) {
  const auto result = load_string(with_listen("${cred:listen}"), "mem.yaml",
                                  fake_secrets({{"CREDENTIALS_DIRECTORY", "/run/credentials/topupd.service"}},
                                               {{"/run/credentials/topupd.service/listen", "127.0.0.1:6666"}}));
  ASSERT_TRUE(result.config) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->http_port, 6666);

  // The unit's LoadCredential=topupd:/etc/topupd/credentials names the file topupd_listen.
  const auto from_directory =
      load_string(with_listen("${cred:listen}"), "mem.yaml",
                  fake_secrets({{"CREDENTIALS_DIRECTORY", "/run/credentials/topupd.service"}},
                               {{"/run/credentials/topupd.service/topupd_listen", "127.0.0.1:5555"}}));
  ASSERT_TRUE(from_directory.config) << ::testing::PrintToString(messages(from_directory));
  EXPECT_EQ(from_directory.config->http_port, 5555);
  const auto missing = load_string(with_listen("${cred:listen}"), "mem.yaml",
                                   fake_secrets({{"CREDENTIALS_DIRECTORY", "/run/credentials/topupd.service"}}));
  ASSERT_EQ(missing.diagnostics.size(), 1u);
  EXPECT_NE(missing.diagnostics[0].message.find("/run/credentials/topupd.service/listen or "
                                                "/run/credentials/topupd.service/topupd_listen"),
            std::string::npos)
      << missing.diagnostics[0].message;

  const auto outside = load_string(with_listen("${cred:listen}"), "mem.yaml", fake_secrets({}));
  ASSERT_EQ(outside.diagnostics.size(), 1u);
  EXPECT_NE(outside.diagnostics[0].message.find("CREDENTIALS_DIRECTORY"), std::string::npos);
  const auto escaping = load_string(with_listen("${cred:../../etc/shadow}"), "mem.yaml",
                                    fake_secrets({{"CREDENTIALS_DIRECTORY", "/run/c"}}));
  ASSERT_EQ(escaping.diagnostics.size(), 1u);
  EXPECT_NE(escaping.diagnostics[0].message.find("must not contain '/'"), std::string::npos);
}

TEST(SecretReferenceTest, MissingReferencesAreNamed) {
  const auto env = load_string(with_listen("${env:NOPE}"), "mem.yaml", fake_secrets({}));
  ASSERT_EQ(env.diagnostics.size(), 1u);
  EXPECT_EQ(env.diagnostics[0].to_string(),
            "mem.yaml:1:16: http.listen: environment variable NOPE is not set (referenced as ${env:NOPE})");
  const auto file = load_string(with_listen("${file:/missing/secret}"), "mem.yaml", fake_secrets({}));
  ASSERT_EQ(file.diagnostics.size(), 1u);
  EXPECT_NE(file.diagnostics[0].message.find("cannot read /missing/secret"), std::string::npos);
  const auto kind = load_string(with_listen("${vault:x}"), "mem.yaml", fake_secrets({}));
  ASSERT_EQ(kind.diagnostics.size(), 1u);
  EXPECT_NE(kind.diagnostics[0].message.find("unknown reference kind 'vault'"), std::string::npos);
  const auto open = load_string(with_listen("${env:X"), "mem.yaml", fake_secrets({}));
  ASSERT_EQ(open.diagnostics.size(), 1u);
  EXPECT_NE(open.diagnostics[0].message.find("unterminated"), std::string::npos);
}

TEST(SecretReferenceTest, ASecretValueNeverAppearsInAnyMessage) {
  const std::string secret = "sk_live_hunter2";
  const std::string text = std::string("http: {listen: \"${env:S}\"}\n") +
                           "dry_run: ${env:S}\n" + kMinimal +
                           "    alert: {repeat: \"${file:/s}\"}\n"
                           "    clear: {above: \"IDR ${env:S}\"}\n";
  const auto result = load_string(text, "mem.yaml", fake_secrets({{"S", secret}}, {{"/s", secret}}));
  ASSERT_GE(result.diagnostics.size(), 4u) << ::testing::PrintToString(messages(result));
  for (const auto& d : result.diagnostics) {
    EXPECT_EQ(d.to_string().find("hunter2"), std::string::npos) << d.to_string();
    EXPECT_NE(d.message.find("value not shown"), std::string::npos) << d.to_string();
  }
}

}  // namespace
}  // namespace topupd::config

namespace topupd::config {
namespace {

TEST(SandboxConfigTest, ReadsGatewaysWithTheirSecretsAndAccounts) {
  auto result = load_sandbox_string(R"(
gateways:
  stripe:
    secret_key: ${env:STRIPE_KEY}
    webhook_url: http://127.0.0.1:9000/hooks
    settle_after: 2s
    accounts:
      acct_a: {balance: USD 10.50, drain_per_minute: USD 1}
  generic:
    token: t
    accounts: {wallet: {balance: IDR 1_000}}
)",
                                    "sandbox.yaml", fake_secrets({{"STRIPE_KEY", "sk_test_from_env"}}, {}));
  ASSERT_TRUE(result.config) << (result.diagnostics.empty() ? "" : result.diagnostics[0].to_string());
  const auto* stripe = result.config->find("stripe");
  ASSERT_NE(stripe, nullptr);
  EXPECT_EQ(stripe->setting("secret_key"), "sk_test_from_env");
  EXPECT_EQ(stripe->webhook_url, "http://127.0.0.1:9000/hooks");
  EXPECT_EQ(stripe->simulation.settle_after, std::chrono::seconds(2));
  ASSERT_EQ(stripe->simulation.accounts.size(), 1u);
  EXPECT_EQ(stripe->simulation.accounts[0].opening_balance.minor(), 1050);
  EXPECT_EQ(result.config->find("xendit"), nullptr);
}

TEST(SandboxConfigTest, ReportsProblemsAtTheirPlaces) {
  auto result = load_sandbox_string("gateways:\n  stripe:\n    secret: x\n  paypal: {}\n", "s.yaml", fake_secrets({}, {}));
  ASSERT_FALSE(result.config);
  std::vector<std::string> messages;
  for (const auto& d : result.diagnostics) messages.push_back(d.to_string());
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].rfind("s.yaml:3:5: gateways.stripe.secret: unknown key 'secret'", 0), 0u) << messages[0];
  EXPECT_EQ(messages[1].rfind("s.yaml:3:5: gateways.stripe.accounts: missing required field 'accounts'", 0), 0u)
      << messages[1];
  EXPECT_EQ(messages[2].rfind("s.yaml:4:3: gateways.paypal: unknown key 'paypal'", 0), 0u) << messages[2];
}

TEST(SandboxConfigTest, XenditsPayoutLagAndQrisFeeAreReadOrRefusedAtTheirPlaces) {
  const auto load = [](const std::string& settings) {
    return load_sandbox_string("gateways:\n  xendit:\n" + settings + "    accounts: {master: {balance: IDR 1}}\n",
                               "s.yaml", fake_secrets({}, {}));
  };
  const auto good = load("    payout_list_lag: 1500ms\n    qris_fee: 0.7%\n");
  ASSERT_TRUE(good.config);
  EXPECT_EQ(good.config->gateways[0].setting("payout_list_lag"), "1s500ms");
  EXPECT_EQ(good.config->gateways[0].setting("qris_fee"), "70");  // basis points
  const auto bad = load("    payout_list_lag: soon\n    qris_fee: 12%\n");
  ASSERT_FALSE(bad.config);
  std::vector<std::string> messages;
  for (const auto& d : bad.diagnostics) messages.push_back(d.to_string());
  ASSERT_EQ(messages.size(), 2u) << ::testing::PrintToString(messages);
  EXPECT_EQ(messages[0].rfind("s.yaml:3:22: gateways.xendit.payout_list_lag:", 0), 0u) << messages[0];
  EXPECT_EQ(messages[1].rfind("s.yaml:4:15: gateways.xendit.qris_fee: '12%' must be a percentage from 0 to 10", 0), 0u)
      << messages[1];
}

TEST(SandboxConfigTest, TheBuiltInGatewaysCoverEveryFormatButSnap) {
  const auto config = default_sandbox_config();
  for (const char* type : {"stripe", "xendit", "midtrans_iris", "flip", "generic"}) {
    ASSERT_NE(config.find(type), nullptr) << type;
    EXPECT_FALSE(config.find(type)->simulation.accounts.empty()) << type;
  }
  EXPECT_EQ(config.find("snap"), nullptr);
}

}  // namespace
}  // namespace topupd::config

namespace topupd::config {
namespace {

TEST(Kinds, EveryProviderAndNotifierTypeIsSpelledOneWay) {
  for (const auto type : {ProviderType::sandbox, ProviderType::stripe, ProviderType::xendit, ProviderType::snap,
                          ProviderType::midtrans_iris, ProviderType::flip, ProviderType::generic_http}) {
    EXPECT_EQ(provider_type_named(to_string(type)), type) << to_string(type);
    EXPECT_NE(provider_type_names().find(to_string(type)), std::string::npos);
  }
  for (const auto type : {NotifierType::log, NotifierType::email, NotifierType::slack, NotifierType::telegram,
                          NotifierType::webhook, NotifierType::alertmanager}) {
    EXPECT_EQ(notifier_type_named(to_string(type)), type) << to_string(type);
    EXPECT_NE(notifier_type_names().find(to_string(type)), std::string::npos);
  }
  EXPECT_FALSE(provider_type_named("Stripe"));
  EXPECT_FALSE(provider_type_named(""));
  EXPECT_FALSE(notifier_type_named("pagerduty"));
  EXPECT_EQ(provider_type_names(), "sandbox, stripe, xendit, snap, midtrans_iris, flip, generic_http");
}

}  // namespace
}  // namespace topupd::config
