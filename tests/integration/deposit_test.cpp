// Deposits against the real daemon and the stand-alone sandbox, whose ledgers are the
// witness: a Xendit virtual-account ticket paid by the company's bank over SNAP
// interbank (one ticket, one transfer, one credit, the exact amount), a static top-up
// account paid intrabank, and a beneficiary whose name is not the journalled one
// (nothing moves, the top-up fails with why).
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "integration/sandbox.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

// The sandbox: BCA (bank code 014) over SNAP holding the company's account, and Xendit
// holding the payout balance, whose static top-up account is at BCA.
std::string sandbox_yaml(const TempDir& keys, int webhook_port, const std::string& deposit_name = "PT Xendit Topup") {
  return fmt::format(R"(
gateways:
  snap:
    client_id: CLIENT-1
    client_secret: snap-client-secret
    client_public_key: ${{file:{}}}
    private_key: ${{file:{}}}
    path_prefix: /snap
    bank_code: "014"
    settle_after: 200ms
    accounts:
      "1234567890": {{balance: IDR 900_000_000}}
  xendit:
    secret_key: xnd_development_deposit
    callback_token: xendit-deposit-token
    webhook_url: http://127.0.0.1:{}/webhooks/xendit
    deposit_bank: BCA
    deposit_account_no: "7770001234"
    deposit_name: {}
    settle_after: 100ms
    accounts:
      master: {{balance: IDR 40_000_000}}
)",
                     keys.file("client.pub"), keys.file("sandbox.key"), webhook_port, deposit_name);
}

std::string daemon_yaml(const TempDir& dir, const TempDir& keys, const Sandbox& sandbox, int webhook_port,
                        const std::string& to,
                        const std::string& pay_with = R"({snap_transfer: {via: bca, from_account: "1234567890"}})") {
  return fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
log: {{level: debug}}
store: {{sqlite: "{}"}}
control: {{socket: "{}"}}
webhooks: {{listen: "127.0.0.1:{}"}}
providers:
  bca:
    type: snap
    base_url: {}
    path_prefix: /snap
    client_id: CLIENT-1
    client_secret: snap-client-secret
    private_key: ${{file:{}}}
    bank_code: "014"
  xendit:
    type: xendit
    base_url: {}
    api_key: xnd_development_deposit
    webhook: {{callback_token: xendit-deposit-token}}
accounts:
  xendit-cash: {{provider: xendit, id: master, currency: IDR, poll: {{every: 200ms, timeout: 2s, jitter: 0%}}}}
  company: {{provider: bca, id: "1234567890", currency: IDR, poll: {{every: 200ms, timeout: 2s, jitter: 0%}}}}
rules:
  - name: xendit-low
    account: xendit-cash
    when: {{below: IDR 50_000_000}}
    clear: {{above: IDR 60_000_000}}
    alert: {{severity: warning, notify: [finance]}}
    top_up:
      method: deposit
      to: {}
      pay_with: {}
      amount: {{to_target: IDR 200_000_000, round_up_to: IDR 1_000_000, max: IDR 250_000_000}}
      limits: {{cooldown: 1h}}
notifiers:
  finance: {{type: log}}
)",
                     dir.file("topupd.db"), dir.file("control.sock"), webhook_port, sandbox.url(), keys.file("client.key"),
                     sandbox.url(), to, pay_with);
}

using Entry = LedgerEntry;

std::vector<Entry> ledger(const Sandbox& sandbox) { return ledger_entries(sandbox); }

// The sandbox's ledger once it holds two settled entries, a transfer and a credit (or
// whatever it holds after 20 s).
std::vector<Entry> settled_transfer_and_credit(const Sandbox& sandbox) {
  std::vector<Entry> entries;
  eventually([&] {
    entries = ledger(sandbox);
    return entries.size() == 2 && entries[0].settled && entries[1].settled;
  }, 20s);
  return entries;
}

const TempDir& keys() {
  static const TempDir* dir = [] {
    auto* d = new TempDir;
    make_key_pair(*d, "client");
    make_key_pair(*d, "sandbox");
    return d;
  }();
  return *dir;
}

TEST(DepositTest, AVirtualAccountTicketIsPaidOnceOverSnapInterbankForTheExactAmount) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(keys(), webhook_port));
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, keys(), sandbox, webhook_port,
                            "{xendit_va: {bank: BNI, name: PT Example Payouts, expires_after: 6h}}"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  // IDR 40,000,000 up to 200,000,000: IDR 160,000,000, whole rupiah.
  std::vector<Entry> entries = settled_transfer_and_credit(sandbox);
  ASSERT_EQ(entries.size(), 2u) << daemon.log() << sandbox.ledger();
  ASSERT_TRUE(eventually([&] { return daemon.log().find("top-up reflected in the balance") != std::string::npos; }, 10s))
      << daemon.log();
  entries = ledger(sandbox);
  ASSERT_EQ(entries.size(), 2u) << sandbox.ledger();  // one transfer, one credit
  const Entry& transfer = entries[0].provider == "snap" ? entries[0] : entries[1];
  const Entry& credit = entries[0].provider == "snap" ? entries[1] : entries[0];
  EXPECT_EQ(transfer.kind, "deposit");
  EXPECT_EQ(transfer.source, "1234567890");
  EXPECT_EQ(transfer.amount_minor, 160'000'000'00);
  EXPECT_EQ(transfer.account.rfind("va:8808", 0), 0u) << transfer.account;  // the ticket's number
  EXPECT_EQ(credit.provider, "xendit");
  EXPECT_EQ(credit.amount_minor, 160'000'000'00);
  EXPECT_EQ(credit.key.rfind("va:fva_", 0), 0u) << credit.key;
  EXPECT_EQ(credit.source, transfer.key);
  // The journal: the ticket issued, then the interbank transfer under the top-up's key,
  // confirmed by the status inquiry; the ticket's callback was accepted as a hint. The
  // callback leaves at the sandbox's next settlement tick: a poll may see the money first.
  EXPECT_TRUE(eventually([&] { return daemon.log().find("webhook accepted provider=xendit") != std::string::npos; }, 10s))
      << daemon.log();
  const std::string log = daemon.log();
  EXPECT_NE(log.find("deposit ticket issued: BNI 8808"), std::string::npos) << log;
  EXPECT_NE(log.find("webhook accepted provider=xendit"), std::string::npos) << log;
  EXPECT_NE(log.find("type=virtual_account.paid"), std::string::npos) << log;
  EXPECT_EQ(daemon.metric("topupd_topups_total", {R"(method="deposit")", R"(outcome="succeeded")"}), 1.0) << daemon.metrics();
  // topupctl history names the account the payment went to.
  const auto history = topupctl(dir.file("control.sock"), {"history", "--csv"});
  EXPECT_NE(history.output.find(",BNI," + transfer.account.substr(3) + "\n"), std::string::npos) << history.output;
  EXPECT_NE(topupctl(dir.file("control.sock"), {"history"}).output.find("pays BNI " + transfer.account.substr(3) +
                                                                      " (PT Example Payouts)"),
            std::string::npos);
  // Funded above clear: no second ticket, no second transfer.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(ledger(sandbox).size(), 2u) << sandbox.ledger();

  // Callbacks about that ticket: a forged one is refused; one that says another amount
  // arrived raises DepositAmountMismatch once, however often it is delivered; neither
  // moves money.
  const std::string key = wait_for_line(daemon.log_path(), R"(deposit ticket issued: .* topup=(\S+))");
  const auto callback = [&](const std::string& token, const std::string& payment, const std::string& amount) {
    return http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/xendit",
                        fmt::format(R"({{"id":"cb_{0}","payment_id":"{0}","callback_virtual_account_id":"fva_x",)"
                                    R"("external_id":"{1}","account_number":"8808000","bank_code":"BNI",)"
                                    R"("amount":{2},"currency":"IDR"}})",
                                    payment, key, amount),
                        {{"Content-Type", "application/json"}, {"x-callback-token", token}});
  };
  EXPECT_EQ(callback("guessed-token", "pay_forged", "1").status, 401);
  EXPECT_EQ(callback("xendit-deposit-token", "pay_short", "150000000").status, 200);
  EXPECT_EQ(callback("xendit-deposit-token", "pay_short", "150000000").status, 200);  // a repeat
  wait_for_line(daemon.log_path(), R"((DepositAmountMismatch): deposit .* xendit says IDR 150,000,000.00 arrived)");
  std::this_thread::sleep_for(500ms);
  const std::string after = daemon.log();
  std::size_t alerts = 0;
  for (auto at = after.find("ERROR DepositAmountMismatch: deposit"); at != std::string::npos;
       at = after.find("ERROR DepositAmountMismatch: deposit", at + 1)) {
    ++alerts;
  }
  EXPECT_EQ(alerts, 1u) << after;
  EXPECT_EQ(ledger(sandbox).size(), 2u) << sandbox.ledger();
}

TEST(DepositTest, AStaticTopUpAccountAtTheSameBankIsPaidIntrabank) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(keys(), webhook_port));
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, keys(), sandbox, webhook_port,
                            R"({static: {bank: "014", account_no: "7770001234", name: PT Xendit Topup}})"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::vector<Entry> entries = settled_transfer_and_credit(sandbox);
  ASSERT_EQ(entries.size(), 2u) << daemon.log() << sandbox.ledger();
  const Entry& transfer = entries[0].provider == "snap" ? entries[0] : entries[1];
  EXPECT_EQ(transfer.account, "static:xendit");
  EXPECT_EQ(transfer.amount_minor, 160'000'000'00);
  // Settled by the status inquiry of service 17: the sandbox finds a transfer only
  // under the service it was made with, so this one went intrabank.
  ASSERT_TRUE(eventually([&] {
    return daemon.metric("topupd_topups_total", {R"(method="deposit")", R"(outcome="succeeded")"}) == 1.0;
  }, 10s)) << daemon.log();
  EXPECT_EQ(daemon.log().find("ticket issued"), std::string::npos);  // a static destination has no ticket
}

TEST(DepositTest, ABeneficiaryWhoseNameIsNotTheJournalledOneIsNeverPaid) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(keys(), webhook_port, "PT Someone Else"));
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, keys(), sandbox, webhook_port,
                            R"({static: {bank: "014", account_no: "7770001234", name: PT Xendit Topup}})"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  wait_for_line(daemon.log_path(), R"(top-up (failed): .*PT Someone Else)", 15s);
  EXPECT_TRUE(ledger(sandbox).empty()) << sandbox.ledger();
  EXPECT_NE(daemon.log().find("DepositBeneficiaryMismatch: deposit"), std::string::npos) << daemon.log();
  EXPECT_NE(daemon.log().find("nothing was paid"), std::string::npos) << daemon.log();
}

// A person pays: the ticket goes to the rule's notifiers and topupctl tickets; nothing is
// sent to a bank; the ticket's callback closes it, the payment looked up at Xendit.
TEST(DepositTest, ATicketAPersonPaysGoesToPeopleAndIsClosedByItsCallback) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(keys(), webhook_port));
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, keys(), sandbox, webhook_port,
                            "{xendit_va: {bank: BNI, name: PT Example Payouts, expires_after: 6h}}", "assisted"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const std::string number = wait_for_line(
      daemon.log_path(), R"(DepositTicketToPay: please transfer exactly IDR 160,000,000\.00 to BNI virtual account (\d+))");
  const auto tickets = topupctl(dir.file("control.sock"), {"tickets"});
  EXPECT_NE(tickets.output.find("pay exactly IDR 160,000,000.00 to BNI " + number + " (PT Example Payouts)"),
            std::string::npos) << tickets.output;
  EXPECT_NE(tickets.output.find("paid by a person; pending"), std::string::npos) << tickets.output;
  EXPECT_TRUE(ledger(sandbox).empty()) << sandbox.ledger();  // nobody's bank was asked to pay

  ASSERT_EQ(sandbox.post("/_sandbox/pay", R"({"account_number":")" + number + R"(","amount":"IDR 160_000_000"})").status,
            200);
  wait_for_line(daemon.log_path(), R"(top-up (succeeded): looked up after webhook fva:pay_)");
  wait_for_line(daemon.log_path(), R"(ticket BNI \d+ for IDR 160,000,000\.00 is (paid))");
  const auto entries = ledger(sandbox);
  ASSERT_EQ(entries.size(), 1u) << sandbox.ledger();
  EXPECT_EQ(entries[0].provider, "xendit");
  EXPECT_EQ(entries[0].source, "person");
  EXPECT_EQ(entries[0].amount_minor, 160'000'000'00);
  EXPECT_NE(topupctl(dir.file("control.sock"), {"tickets"}).output.find("0 open tickets"), std::string::npos);
}

// Nobody pays: the ticket expires, the top-up ends and the rule plans a new one. The
// expired ticket paid late, and the new one underpaid, each raise a critical alert.
TEST(DepositTest, AnUnpaidTicketExpiresAndLateOrShortPaymentsAlert) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(keys(), webhook_port));
  TempDir dir;
  std::string config = daemon_yaml(dir, keys(), sandbox, webhook_port,
                                   "{xendit_va: {bank: BNI, name: PT Example Payouts, expires_after: 2s}}", "assisted");
  config.replace(config.find("cooldown: 1h"), 12, "cooldown: 0s");
  Daemon daemon(config);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const std::string first = wait_for_line(daemon.log_path(), R"(please transfer exactly .* virtual account (\d+))");
  wait_for_line(daemon.log_path(), R"(top-up (expired): its ticket expired before it was paid)", 15s);
  // A new ticket for the same need, once the old one is given up.
  std::string second;
  ASSERT_TRUE(eventually([&] {
    std::smatch match;
    const std::string log = daemon.log();
    const std::regex ticket(R"(please transfer exactly .* virtual account (\d+))");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), ticket); it != std::sregex_iterator(); ++it) {
      if ((*it)[1] != first) second = (*it)[1];
    }
    return !second.empty();
  }, 15s)) << daemon.log();
  EXPECT_EQ(sandbox.post("/_sandbox/pay", R"({"account_number":")" + first + R"(","amount":"IDR 160_000_000"})").status,
            410);  // expired: the bank refuses it
  ASSERT_EQ(sandbox.post("/_sandbox/pay",
                         R"({"account_number":")" + first + R"(","amount":"IDR 160_000_000","late":true})").status,
            200);
  wait_for_line(daemon.log_path(), R"((DepositPaidAfterExpiry): deposit)", 10s);
  ASSERT_EQ(sandbox.post("/_sandbox/pay", R"({"account_number":")" + second + R"(","amount":"IDR 150_000_000"})").status,
            200);
  wait_for_line(daemon.log_path(), R"((DepositAmountMismatch): deposit .* IDR 150,000,000\.00 arrived)", 10s);
}

// Pinned destinations cover deposits: a static account the file does not list is
// refused by check; a ticket whose number is outside the pinned prefixes is never
// journalled or paid; inside them it is paid. (The pin file must be root's: these run
// as root, as `make test` does.)
TEST(DepositTest, PinnedDestinationsHoldForDepositsToo) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(keys(), webhook_port));
  TempDir dir;
  const auto pin = [&](const std::string& prefix) {
    dir.write("destinations.yaml", "accounts: [{provider: xendit, account_id: master}]\n"
                                   "virtual_accounts: [{bank: BNI, prefix: \"" + prefix + "\"}]\n");
  };
  // Each daemon keeps its journal in `home`: a fresh one has no cooldown to wait out.
  const auto config = [&](const TempDir& home, const std::string& to) {
    std::string text = daemon_yaml(home, keys(), sandbox, webhook_port, to);
    return "destinations: \"" + dir.file("destinations.yaml") + "\"\n" + text;
  };
  pin("8808");
  dir.write("static.yaml", config(dir, R"({static: {bank: "014", account_no: "7770001234", name: PT Xendit Topup}})"));
  const auto refused = run_command({TOPUPD_BINARY, "check", "--config", dir.file("static.yaml")});
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("rules[0].top_up.to: money may not go to bank 014 account 7770001234"),
            std::string::npos) << refused.output;

  pin("9999");  // the sandbox numbers its virtual accounts from 8808
  {
    TempDir home;
    Daemon daemon(config(home, "{xendit_va: {bank: BNI, name: PT Example Payouts}}"));
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    wait_for_line(daemon.log_path(), R"((DepositTicketNotPinned): deposit .* the ticket issued is BNI 8808)");
    wait_for_line(daemon.log_path(), R"(top-up (failed): the ticket issued is BNI 8808\d+, which the pinned)");
    EXPECT_TRUE(ledger(sandbox).empty()) << sandbox.ledger();
    EXPECT_EQ(daemon.log().find("deposit ticket issued"), std::string::npos);  // never journalled
  }
  pin("8808");
  TempDir home;
  Daemon daemon(config(home, "{xendit_va: {bank: BNI, name: PT Example Payouts}}"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  EXPECT_EQ(settled_transfer_and_credit(sandbox).size(), 2u) << daemon.log() << sandbox.ledger();
}

// `make demo` on the embedded sandbox: one balance funded by a ticket the company's
// account pays, one by a ticket a person is asked to pay (the sandbox plays them). The
// demo's own file, only sped up.
TEST(DepositTest, TheEmbeddedDemoFundsOneBalanceByBankAndOneByAPerson) {
  std::string config = read_file(std::string(TOPUPD_SOURCE_DIR) + "/etc/topupd/demo.yaml");
  TempDir control;
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:9464", "127.0.0.1:0"},
           {"listen: 127.0.0.1:9480", "listen: 127.0.0.1:0"},
           {"/tmp/topupd-demo.sock", control.file("control.sock")},
           {"pay_tickets_after: 20s", "pay_tickets_after: 2s"},
           {"wallet:     {balance: IDR 7_400_000", "wallet:     {balance: IDR 6_900_000"},
           {"ops-wallet: {balance: IDR 5_100_000", "ops-wallet: {balance: IDR 4_900_000"},
           {"qris-wallet: {balance: IDR 3_100_000", "qris-wallet: {balance: IDR 2_900_000"}}) {
    ASSERT_NE(config.find(from), std::string::npos) << from;
    config.replace(config.find(from), from.size(), to);
  }
  Daemon daemon(config);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  wait_for_line(daemon.log_path(), R"(deposit ticket issued: BNI (8808\d+) \(PT Demo Payouts\))");
  wait_for_line(daemon.log_path(), R"(top-up (succeeded) topup=topupd-wallet-low-wallet-)", 15s);
  wait_for_line(daemon.log_path(), R"((DepositTicketToPay): please transfer exactly IDR 2,000,000\.00 to BNI)");
  wait_for_line(daemon.log_path(), R"(ticket BNI 8808\d+ for IDR 2,000,000\.00 is (paid))", 15s);
  // And one by a QRIS code a person scans.
  wait_for_line(daemon.log_path(), R"((DepositTicketToPay): please scan and pay QRIS code sbxqr_\d+ for exactly IDR 1,500,000\.00)");
  wait_for_line(daemon.log_path(), R"(QRIS code sbxqr_\d+ for IDR 1,500,000\.00 is (paid))", 15s);
  const std::string ledger = daemon.get("/sandbox/ledger").body;
  // The bank's payment: from the company's account into the wallet, under the top-up's key.
  EXPECT_TRUE(std::regex_search(ledger, std::regex(R"#("kind":"sweep","account":"wallet","source":"company-bca","amount_minor":\d+,"currency":"IDR","idempotency_key":"topupd-wallet-low-)#")))
      << ledger;
  // The person's: into ops-wallet, under its top-up's key.
  EXPECT_TRUE(std::regex_search(ledger, std::regex(R"#("kind":"direct_debit","account":"ops-wallet","source":"person","amount_minor":200000000,"currency":"IDR","idempotency_key":"topupd-ops-wallet-low-)#")))
      << ledger;
}

}  // namespace
}  // namespace topupd::testing
