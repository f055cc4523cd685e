// The pinned destinations file: what it may say, and a config checked against it.
#include "topupd/config/destinations.hpp"

#include <gtest/gtest.h>

namespace topupd::config {
namespace {

SecretSources no_secrets() {
  const auto none = [](const std::string&) { return std::optional<std::string>(); };
  return {none, none};
}

TEST(DestinationsFileTest, ListsAccountsByProviderAndId) {
  const auto loaded = load_destinations_string(
      "accounts:\n  - {provider: xendit, account_id: xendit-cash}\n  - {provider: sim, account_id: \"123\"}\n",
      "/etc/topupd/destinations.yaml");
  ASSERT_TRUE(loaded.accounts) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].to_string());
  ASSERT_EQ(loaded.accounts->size(), 2u);
  EXPECT_EQ((*loaded.accounts)[0], (PinnedDestination{"xendit", "xendit-cash"}));
  EXPECT_EQ((*loaded.accounts)[1], (PinnedDestination{"sim", "123"}));
}

TEST(DestinationsFileTest, ProblemsAreNamedAtTheirPlace) {
  const auto loaded = load_destinations_string(
      "accounts:\n  - {provider: xendit}\n  - {provider: sim, account_id: a, bank: \"014\"}\nextra: 1\n", "pins.yaml");
  EXPECT_FALSE(loaded.accounts);
  std::vector<std::string> texts;
  for (const auto& d : loaded.diagnostics) texts.push_back(d.to_string());
  ASSERT_EQ(texts.size(), 3u) << ::testing::PrintToString(texts);
  EXPECT_EQ(texts[0].rfind("pins.yaml:2:5: accounts[0].account_id: missing required field 'account_id'", 0), 0u)
      << texts[0];
  EXPECT_EQ(texts[1].rfind("pins.yaml:3:36: accounts[1].bank: unknown key 'bank'", 0), 0u) << texts[1];
  EXPECT_EQ(texts[2].rfind("pins.yaml:4:1: extra:", 0), 0u) << texts[2];
  EXPECT_FALSE(load_destinations_string("", "pins.yaml").accounts);
  EXPECT_FALSE(load_destinations_string("accounts: {provider: sim}\n", "pins.yaml").accounts);
}

TEST(DestinationsCheckTest, ARuleFundingAnAccountNotListedIsAProblemAtItsAccount) {
  const std::string text = R"(providers:
  sim: {type: sandbox, accounts: {payout: {balance: IDR 1_000}, other: {balance: IDR 1_000}}}
accounts:
  payout: {provider: sim, currency: IDR}
  other: {provider: sim, currency: IDR}
rules:
  - name: watch-only
    account: other
    when: {below: IDR 500}
  - name: refill
    account: payout
    when: {below: IDR 500}
    top_up: {method: direct_debit, from_account: "1", amount: {fixed: IDR 100}}
  - name: refill-other
    account: other
    when: {below: IDR 500}
    top_up: {method: direct_debit, from_account: "1", amount: {fixed: IDR 100}}
)";
  const auto loaded = load_string(text, "topupd.yaml", no_secrets());
  ASSERT_TRUE(loaded.config);
  const std::vector<PinnedDestination> pinned{{"sim", "payout"}};
  const auto problems = check_destinations(*loaded.config, pinned, "/etc/topupd/destinations.yaml");
  ASSERT_EQ(problems.size(), 1u);  // an alert-only rule moves no money: it needs no pin
  EXPECT_EQ(problems[0].to_string().rfind("topupd.yaml:15:14: rules[2].account: money may not go to account 'other' "
                                          "(provider sim, id other): /etc/topupd/destinations.yaml does not list it",
                                          0),
            0u)
      << problems[0].to_string();
  EXPECT_TRUE(check_destinations(*loaded.config, {{"sim", "payout"}, {"sim", "other"}}, "p").empty());
}

}  // namespace
}  // namespace topupd::config
