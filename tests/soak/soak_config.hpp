// What the soak runs: the stand-alone sandbox with every gateway format topupd speaks,
// and topupd's configuration in the variants a reload switches between — accounts and
// rules added and removed, a notifier's secret rotated, a broken file now and then.
//
// Money moves by every method the sandbox can witness: a Stripe top-up (direct debit),
// a Xendit virtual account paid by a SNAP interbank transfer, and Flip's top-up account
// paid by a Xendit payout; a scheduled Stripe top-up every minute, capped per day. Midtrans Iris and many generic-API wallets are watched and
// alerted on; three webhook notifiers and a log notifier carry the alerts.
#pragma once

#include <map>
#include <string>

#include <fmt/format.h>

namespace topupd::testing {

struct SoakWorld {
  std::string keys;          // directory with client.{key,pub}, sandbox.{key,pub}
  std::string relay;         // the relay's base URL, where the sandbox sends webhooks
  std::string sandbox;       // the sandbox's base URL
  std::string db;            // topupd's SQLite store
  int webhook_port = 0;      // topupd's receiver, fixed across restarts
  std::string notifiers[3];  // the three notifier peers' URLs
};

inline constexpr int kWallets = 40;  // generic-API accounts in the sandbox

inline std::string soak_sandbox_config(const SoakWorld& w) {
  std::string wallets;
  for (int i = 1; i <= kWallets; ++i) {
    wallets += fmt::format("      w{:02}: {{balance: IDR 10_000_000, drain_per_minute: IDR {}_000, noise: 10%, fail: 5%}}\n",
                           i, 100 + 10 * i);
  }
  return fmt::format(R"(gateways:
  stripe:
    secret_key: sk_test_soak
    webhook_secret: whsec_soak
    webhook_url: {relay}/webhooks/stripe
    settle_after: 400ms
    decline: 10%
    accounts:
      acct_payouts: {{balance: USD 5_000, drain_per_minute: USD 1_200, noise: 10%}}
  xendit:
    secret_key: xnd_development_soak
    callback_token: xendit-soak-token
    webhook_url: {relay}/webhooks/xendit
    payout_list_lag: 1s
    settle_after: 400ms
    decline: 10%
    accounts:
      master: {{balance: IDR 46_000_000, drain_per_minute: IDR 6_000_000, noise: 10%}}
  snap:
    client_id: SOAK-CLIENT
    client_secret: soak-client-secret
    client_public_key: ${{file:{keys}/client.pub}}
    private_key: ${{file:{keys}/sandbox.key}}
    path_prefix: /snap
    bank_code: "014"
    webhook_url: {relay}/snap/v1.0/debit/notify
    settle_after: 400ms
    decline: 10%
    accounts:
      "9876543210": {{balance: IDR 900_000_000_000}}
  midtrans_iris:
    api_key: IRIS-soak
    merchant_key: iris-merchant-soak
    accounts:
      aggregator: {{balance: IDR 80_000_000, drain_per_minute: IDR 1_500_000, noise: 10%}}
  flip:
    secret_key: flip-soak-secret
    validation_token: flip-soak-token
    deposit_bank: BNI
    deposit_account_no: "8001234567"
    deposit_name: PT Flip Topup
    settle_after: 400ms
    accounts:
      main: {{balance: IDR 30_300_000, drain_per_minute: IDR 4_000_000, noise: 10%}}
  generic:
    token: generic-soak-token
    accounts:
{wallets})",
                     fmt::arg("relay", w.relay), fmt::arg("keys", w.keys), fmt::arg("wallets", wallets));
}

// What a reload switches to. `broken` is rejected: the old configuration stays.
enum class Variant { base, more_accounts, fewer_accounts, rotated_secret, without_stripe_rule, broken };
inline const char* variant_name(Variant v) {
  switch (v) {
    case Variant::base: return "base";
    case Variant::more_accounts: return "accounts added";
    case Variant::fewer_accounts: return "accounts removed";
    case Variant::rotated_secret: return "secret rotated";
    case Variant::without_stripe_rule: return "rule removed";
    case Variant::broken: return "broken";
  }
  return "?";
}

// stripe-daily asks for a top-up every minute, at most this many a day: a cap that
// binds within minutes, under a wall clock that jumps hours either way.
inline constexpr int kStripeDailyCap = 2;
inline constexpr const char* kStripeDailyRule = "stripe-daily";

// The rules below that move money, by where the sandbox's ledger shows it: a Stripe
// debit under the record's key, a SNAP transfer under the partner reference made of
// it, or a Xendit payout under it (soak_ledger.hpp's judge_soak).
enum class MoneyLeg { stripe_debit, snap_transfer, xendit_payout };
inline const std::map<std::string, MoneyLeg> kTopUpRules = {{"stripe-refill", MoneyLeg::stripe_debit},
                                                            {kStripeDailyRule, MoneyLeg::stripe_debit},
                                                            {"xendit-refill", MoneyLeg::snap_transfer},
                                                            {"flip-refill", MoneyLeg::xendit_payout}};

inline std::string soak_topupd_config(const SoakWorld& w, Variant v) {
  const int wallets = v == Variant::more_accounts ? kWallets : v == Variant::fewer_accounts ? 20 : 30;
  std::string accounts, rules;
  for (int i = 1; i <= wallets; ++i) {
    accounts += fmt::format(
        "  w{0:02}: {{provider: wallet-api, id: w{0:02}, currency: IDR, poll: {{every: 1s, timeout: 1s, max_backoff: 4s}}}}\n", i);
    if (i % 3 == 0) {
      rules += fmt::format(R"(  - name: w{0:02}-low
    account: w{0:02}
    when: {{below: IDR 9_950_000}}
    alert: {{severity: warning, notify: [ops-log, pager, chat, ticketing], repeat: 20s}}
  - name: w{0:02}-stale
    account: w{0:02}
    when: {{stale_for: 5s}}
    alert: {{severity: critical, notify: [ops-log, pager]}}
)",
                           i);
    }
  }
  const std::string secret = v == Variant::rotated_secret ? "notify-secret-2" : "notify-secret-1";
  std::string stripe_rule;
  if (v != Variant::without_stripe_rule) {
    stripe_rule = R"(  - name: stripe-refill
    account: stripe-payouts
    when: {below: USD 4_800}
    clear: {above: USD 5_000}
    alert: {severity: warning, notify: [ops-log, chat]}
    top_up:
      method: direct_debit
      amount: {to_target: USD 5_200}
      limits: {cooldown: 2s, per_day: USD 1_000_000}
      suspend_after: 0
)";
  }
  std::string out = fmt::format(R"(timezone: Asia/Jakarta
log: {{level: info}}
http: {{listen: 127.0.0.1:0}}
store: {{sqlite: "{db}"}}
webhooks: {{listen: 127.0.0.1:{webhook_port}, allow_from: [127.0.0.0/8], snap_prefix: /snap}}
console: {{listen: 127.0.0.1:0}}

providers:
  stripe:
    type: stripe
    base_url: {sandbox}
    api_key: sk_test_soak
    retries: 0
    timeouts: {{request: 1s}}
    webhook: {{secret: whsec_soak}}
  xendit:
    type: xendit
    base_url: {sandbox}
    api_key: xnd_development_soak
    retries: 0
    timeouts: {{request: 1s}}
    webhook: {{callback_token: xendit-soak-token}}
  midtrans_iris:
    type: midtrans_iris
    base_url: {sandbox}/iris
    api_key: IRIS-soak
    timeouts: {{request: 1s}}
    webhook: {{merchant_key: iris-merchant-soak}}
  flip:
    type: flip
    base_url: {sandbox}
    api_key: flip-soak-secret
    retries: 0
    timeouts: {{request: 1s}}
  bca:
    type: snap
    base_url: {sandbox}
    path_prefix: /snap
    client_id: SOAK-CLIENT
    client_secret: soak-client-secret
    private_key: ${{file:{keys}/client.key}}
    bank_code: "014"
    retries: 0
    timeouts: {{request: 1s}}
    webhook: {{public_key: "${{file:{keys}/sandbox.pub}}"}}
  wallet-api:
    type: generic_http
    url: {sandbox}/generic/accounts/{{account}}/balance
    auth: {{bearer: generic-soak-token}}
    retries: 0
    timeouts: {{request: 1s}}
    amount: {{pointer: /data/balance/minor, form: minor, currency_pointer: /data/balance/currency}}

accounts:
  stripe-payouts: {{provider: stripe, id: acct_payouts, currency: USD, poll: {{every: 500ms, timeout: 1s, max_backoff: 2s}}}}
  xendit-cash: {{provider: xendit, id: master, currency: IDR, poll: {{every: 500ms, timeout: 1s, max_backoff: 2s}}}}
  iris: {{provider: midtrans_iris, id: aggregator, currency: IDR, poll: {{every: 1s, timeout: 1s, max_backoff: 4s}}}}
  flip: {{provider: flip, id: main, currency: IDR, poll: {{every: 500ms, timeout: 1s, max_backoff: 2s}}}}
  bca-source: {{provider: bca, id: "9876543210", currency: IDR, poll: {{every: 1s, timeout: 1s, max_backoff: 4s}}}}
{accounts}
notifiers:
  ops-log: {{type: log}}
  pager: {{type: webhook, url: "{n0}", secret: {secret}, timeout: 2s}}
  chat: {{type: webhook, url: "{n1}", secret: {secret}, timeout: 2s}}
  ticketing: {{type: webhook, url: "{n2}", secret: {secret}, timeout: 2s}}

rules:
{stripe_rule}  - name: xendit-refill
    account: xendit-cash
    when: {{below: IDR 45_000_000}}
    clear: {{above: IDR 50_000_000}}
    alert: {{severity: warning, notify: [ops-log, pager]}}
    top_up:
      method: deposit
      to: {{xendit_va: {{bank: BNI, name: PT Soak Payouts, expires_after: 1h}}}}
      pay_with: {{snap_transfer: {{via: bca, from_account: "9876543210"}}}}
      amount: {{to_target: IDR 60_000_000, round_up_to: IDR 1_000_000, max: IDR 100_000_000}}
      limits: {{cooldown: 2s}}
      suspend_after: 0
  - name: xendit-runway
    account: xendit-cash
    when: {{runway_below: 2h, window: 1m}}
    alert: {{severity: info, notify: [ops-log, ticketing], repeat: 2m}}
  - name: flip-refill
    account: flip
    when: {{below: IDR 30_000_000}}
    clear: {{above: IDR 32_000_000}}
    alert: {{severity: warning, notify: [ops-log, chat]}}
    top_up:
      method: deposit
      to: {{static: {{bank: BNI, account_no: "8001234567", name: PT Flip Topup}}}}
      pay_with: {{payout: {{via: xendit, from: xendit-cash, keep_in_source: IDR 20_000_000}}}}
      amount: {{to_target: IDR 40_000_000, round_up_to: IDR 1_000_000}}
      limits: {{cooldown: 2s}}
      suspend_after: 0
  - name: {daily_rule}
    account: stripe-payouts
    schedule: "* * * * *"
    top_up:
      method: direct_debit
      amount: {{fixed: USD 10}}
      limits: {{max_per_day: {daily_cap}}}
      suspend_after: 0
  - name: iris-low
    account: iris
    when: {{below: IDR 79_000_000}}
    alert: {{severity: warning, notify: [ops-log, ticketing], repeat: 1m}}
{rules})",
                                fmt::arg("db", w.db), fmt::arg("webhook_port", w.webhook_port),
                                fmt::arg("sandbox", w.sandbox), fmt::arg("keys", w.keys), fmt::arg("accounts", accounts),
                                fmt::arg("n0", w.notifiers[0]), fmt::arg("n1", w.notifiers[1]),
                                fmt::arg("n2", w.notifiers[2]), fmt::arg("secret", secret),
                                fmt::arg("stripe_rule", stripe_rule), fmt::arg("rules", rules),
                                fmt::arg("daily_cap", kStripeDailyCap), fmt::arg("daily_rule", kStripeDailyRule));
  // A broken file: a rule about an account that does not exist (topupd names the line).
  if (v == Variant::broken) out += "  - name: nobody\n    account: no-such-account\n    when: {below: IDR 1}\n";
  return out;
}

}  // namespace topupd::testing
