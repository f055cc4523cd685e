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
  ASSERT_TRUE(loaded.pins) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].to_string());
  ASSERT_EQ(loaded.pins->accounts.size(), 2u);
  EXPECT_EQ(loaded.pins->accounts[0], (PinnedDestination{"xendit", "xendit-cash"}));
  EXPECT_EQ(loaded.pins->accounts[1], (PinnedDestination{"sim", "123"}));
}

TEST(DestinationsFileTest, ProblemsAreNamedAtTheirPlace) {
  const auto loaded = load_destinations_string(
      "accounts:\n  - {provider: xendit}\n  - {provider: sim, account_id: a, bank: \"014\"}\nextra: 1\n", "pins.yaml");
  EXPECT_FALSE(loaded.pins);
  std::vector<std::string> texts;
  for (const auto& d : loaded.diagnostics) texts.push_back(d.to_string());
  ASSERT_EQ(texts.size(), 3u) << ::testing::PrintToString(texts);
  EXPECT_EQ(texts[0].rfind("pins.yaml:2:5: accounts[0].account_id: missing required field 'account_id'", 0), 0u)
      << texts[0];
  EXPECT_EQ(texts[1].rfind("pins.yaml:3:36: accounts[1].bank: unknown key 'bank'", 0), 0u) << texts[1];
  EXPECT_EQ(texts[2].rfind("pins.yaml:4:1: extra:", 0), 0u) << texts[2];
  EXPECT_FALSE(load_destinations_string("", "pins.yaml").pins);
  EXPECT_FALSE(load_destinations_string("accounts: {provider: sim}\n", "pins.yaml").pins);
  EXPECT_FALSE(load_destinations_string("accounts: []\nbank_accounts: [{bank: BCA, account_no: 12-34}]\n", "p").pins);
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
  const Pins pinned{{{"sim", "payout"}}};
  const auto problems = check_destinations(*loaded.config, pinned, "/etc/topupd/destinations.yaml");
  ASSERT_EQ(problems.size(), 1u);  // an alert-only rule moves no money: it needs no pin
  EXPECT_EQ(problems[0].to_string().rfind("topupd.yaml:15:14: rules[2].account: money may not go to account 'other' "
                                          "(provider sim, id other): /etc/topupd/destinations.yaml does not list it",
                                          0),
            0u)
      << problems[0].to_string();
  EXPECT_TRUE(check_destinations(*loaded.config, Pins{{{"sim", "payout"}, {"sim", "other"}}}, "p").empty());
}

TEST(DestinationsFileTest, ListsDepositBankAccountsAndVirtualAccountPrefixesByTheBanksCode) {
  const auto loaded = load_destinations_string(R"(accounts: [{provider: xendit, account_id: master}]
bank_accounts: [{bank: BCA, account_no: "7770001234"}]
virtual_accounts: [{bank: "009", prefix: "8808"}]
)",
                                               "pins.yaml");
  ASSERT_TRUE(loaded.pins) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].to_string());
  const Pins& pins = *loaded.pins;
  EXPECT_TRUE(pins.allows_bank_account("014", "7770001234"));  // BCA is 014
  EXPECT_TRUE(pins.allows_bank_account("BCA", "7770001234"));
  EXPECT_FALSE(pins.allows_bank_account("014", "7770001235"));
  EXPECT_TRUE(pins.allows_virtual_account("BNI", "88080000000003"));  // BNI is 009
  EXPECT_FALSE(pins.allows_virtual_account("BNI", "8808"));            // the prefix alone is no account
  EXPECT_FALSE(pins.allows_virtual_account("BRI", "88080000000003"));
  EXPECT_FALSE(pins.allows_virtual_account("BNI", "77080000000003"));
}

TEST(DestinationsCheckTest, ADepositsStaticAccountMustBeListedAndATicketsBankNeedsPrefixes) {
  const std::string text = R"(providers:
  bca: {type: snap, base_url: "https://bca.example", client_id: C, client_secret: S, private_key: "${env:SNAP_KEY}", path_prefix: /snap, bank_code: "014"}
  xendit: {type: xendit, api_key: xnd_development_x}
accounts:
  cash: {provider: xendit, id: master, currency: IDR}
rules:
  - name: static
    account: cash
    when: {below: IDR 500}
    top_up:
      method: deposit
      to: {static: {bank: "014", account_no: "7770001234", name: PT Xendit}}
      pay_with: {snap_transfer: {via: bca, from_account: "1"}}
      amount: {fixed: IDR 100}
  - name: ticket
    account: cash
    when: {below: IDR 500}
    top_up:
      method: deposit
      to: {xendit_va: {bank: BNI, name: PT Example}}
      pay_with: assisted
      amount: {fixed: IDR 100}
)";
  // The config check wants a PEM block's shape there, nothing more: one built here.
  const auto pem_shape = [](const std::string& name) -> std::optional<std::string> {
    if (name != "SNAP_KEY") return std::nullopt;
    return std::string(5, '-') + "BEGIN " + "PRIVATE KEY" + std::string(5, '-');
  };
  const auto loaded = load_string(text, "topupd.yaml", SecretSources{pem_shape, pem_shape});
  ASSERT_TRUE(loaded.config) << loaded.diagnostics.at(0).to_string();
  Pins pins{{{"xendit", "master"}}};
  auto problems = check_destinations(*loaded.config, pins, "d.yaml");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].to_string().rfind("topupd.yaml:12:11: rules[0].top_up.to: money may not go to bank 014 "
                                          "account 7770001234: d.yaml does not list it", 0), 0u)
      << problems[0].to_string();
  EXPECT_EQ(problems[1].to_string().rfind("topupd.yaml:20:11: rules[1].top_up.to: d.yaml lists no virtual accounts "
                                          "at BNI", 0), 0u)
      << problems[1].to_string();
  pins.bank_accounts.push_back({"014", "7770001234"});
  pins.virtual_accounts.push_back({"009", "8808"});
  EXPECT_TRUE(check_destinations(*loaded.config, pins, "d.yaml").empty());
}

}  // namespace
}  // namespace topupd::config
