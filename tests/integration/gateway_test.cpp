// Every provider adapter against the stand-alone sandbox over real HTTP and HTTPS:
// exact balances, credentials, idempotency, look-ups, faults, TLS verification and a
// CONNECT proxy. The sandbox's ledger is the witness for money that moved.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <regex>

#include "integration/harness.hpp"
#include "integration/provider_run.hpp"
#include "integration/sandbox.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/providers/http_providers.hpp"
#include "topupd/adapters/sys/system_clock.hpp"
#include "topupd/adapters/webhooks/verify.hpp"

namespace topupd::testing {
namespace {

namespace asio = boost::asio;
using adapters::FailureKind;
using adapters::Provider;
using adapters::ProviderResult;
using adapters::TopUpReceipt;
using adapters::TopUpRequest;
using core::Money;

Money money(const char* text) { return *core::parse_money(text).value; }

std::string sandbox_config(const TempDir& keys, const std::string& snap_webhook = "") {
  return fmt::format(R"(
gateways:
  stripe:
    secret_key: sk_test_contract
    webhook_secret: whsec_contract
    settle_after: 1s
    accounts:
      acct_payouts: {{balance: USD 1_234.56}}
  xendit:
    secret_key: xnd_development_contract
    accounts:
      master: {{balance: IDR 50_000_000.25}}
      sub_1: {{balance: IDR 7_000}}
  snap:
    client_id: CLIENT-1
    client_secret: snap-client-secret
    client_public_key: ${{file:{0}}}
    private_key: ${{file:{1}}}
    path_prefix: /snap
    settle_after: 1s
{2}    accounts:
      "1234567890": {{balance: IDR 5_000_000}}
      "9876543210": {{balance: IDR 100_000_000}}
  midtrans_iris:
    api_key: IRIS-contract
    merchant_key: iris-merchant
    accounts:
      aggregator: {{balance: IDR 80_000_000.50}}
  flip:
    secret_key: flip-contract
    validation_token: flip-token
    accounts:
      main: {{balance: IDR 30_000_000}}
  generic:
    token: generic-contract
    accounts:
      wallet: {{balance: IDR 10_000_000.07}}
)",
                     keys.file("client.pub"), keys.file("sandbox.key"),
                     snap_webhook.empty() ? "" : "    webhook_url: \"" + snap_webhook + "\"\n");
}

// The keys every test shares: topupd's SNAP client key and the sandbox's own.
const TempDir& keys() {
  static TempDir dir;
  static bool made = false;
  if (!made) {
    make_key_pair(dir, "client");
    make_key_pair(dir, "sandbox");
    made = true;
  }
  return dir;
}

config::ProviderConfig provider_config(const std::string& type, const std::string& base) {
  config::ProviderConfig c;
  c.name = type;
  c.type = config::provider_type_named(type);
  c.http.base_url = base;
  c.http.max_attempts = 1;  // the tests look at single answers
  c.http.breaker_failures = 1000;
  c.http.request_timeout = std::chrono::seconds(5);
  c.http.proxy = "";
  if (type == "stripe") c.api_key = "sk_test_contract";
  if (type == "xendit") c.api_key = "xnd_development_contract";
  if (type == "midtrans_iris") {
    c.api_key = "IRIS-contract";
    c.http.base_url = base + "/iris";
  }
  if (type == "flip") c.api_key = "flip-contract";
  if (type == "snap") {
    c.snap.client_id = "CLIENT-1";
    c.snap.partner_id = "CLIENT-1";
    c.snap.client_secret = "snap-client-secret";
    c.snap.private_key = read_file(keys().file("client.key"));
    c.snap.path_prefix = "/snap";
  }
  if (type == "generic_http") {
    c.generic.url = base + "/generic/accounts/{account}/balance";
    c.generic.bearer_token = "generic-contract";
    c.generic.amount_pointer = "/data/balance/amount";
    c.generic.amount_form = "string";
    c.generic.currency_pointer = "/data/balance/currency";
  }
  return c;
}

struct Case {
  std::string type;
  std::string account;
  std::string balance;  // exact, as configured in the sandbox (no drain)
  std::string missing_account;
};

std::ostream& operator<<(std::ostream& out, const Case& c) { return out << c.type; }

class Gateways : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { sandbox_ = std::make_unique<Sandbox>(sandbox_config(keys())); }
  static void TearDownTestSuite() { sandbox_.reset(); }
  void TearDown() override { clear_faults(); }
  static void clear_faults() { http_request("DELETE", "127.0.0.1", sandbox_->port(), "/_sandbox/faults", ""); }
  static void fault(const std::string& body) { ASSERT_EQ(sandbox_->post("/_sandbox/faults", body).status, 200); }

  std::shared_ptr<Provider> make(const config::ProviderConfig& c) {
    return adapters::make_http_provider(c, io_.get_executor(), clock_, random_);
  }
  ProviderResult<Money> balance(Provider& p, const std::string& account, const std::string& currency,
                                const std::string& kind = "available") {
    const adapters::BalanceQuery query{account, kind, *core::Currency::find(currency)};
    return run(io_, p.balance(query));
  }

  static std::unique_ptr<Sandbox> sandbox_;
  asio::io_context io_;
  adapters::SystemClock clock_;
  adapters::SystemRandom random_;
};
std::unique_ptr<Sandbox> Gateways::sandbox_;

class Contract : public Gateways, public ::testing::WithParamInterface<Case> {};

TEST_P(Contract, ReadsTheExactBalance) {
  const Case& c = GetParam();
  auto provider = make(provider_config(c.type, sandbox_->url()));
  const Money expected = money(c.balance.c_str());
  auto result = balance(*provider, c.account, std::string(expected.currency().code()));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->minor(), expected.minor());
}

TEST_P(Contract, WrongCredentialsAreRefusedAndNotRetried) {
  const Case& c = GetParam();
  auto config = provider_config(c.type, sandbox_->url());
  config.api_key = "wrong";
  config.snap.client_secret = "wrong";
  config.generic.bearer_token = "wrong";
  auto result = balance(*make(config), c.account, std::string(money(c.balance.c_str()).currency().code()));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::not_retryable);
  EXPECT_EQ(result.error().reason, "unauthorized");
  // The message names the provider and never the key.
  EXPECT_EQ(result.error().message.find("wrong"), std::string::npos);
}

// Every provider with more than one balance per key (not Flip).
class UnknownAccount : public Contract {};

TEST_P(UnknownAccount, IsNotRetryable) {
  const Case& c = GetParam();
  auto result = balance(*make(provider_config(c.type, sandbox_->url())), c.missing_account,
                        std::string(money(c.balance.c_str()).currency().code()));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::not_retryable) << result.error().message;
}

TEST_P(Contract, ServerErrorsGarbageAndResetsAreRetryableAndPass) {
  const Case& c = GetParam();
  const std::string family = c.type == "generic_http" ? "generic" : c.type;
  auto provider = make(provider_config(c.type, sandbox_->url()));
  const std::string currency(money(c.balance.c_str()).currency().code());
  for (const std::string& f : {std::string(R"("status": 503)"), std::string(R"("malformed": true)"),
                               std::string(R"("reset": true)")}) {
    fault(fmt::format(R"({{"provider": "{}", {}}})", family, f));
    auto failed = balance(*provider, c.account, currency);
    ASSERT_FALSE(failed) << f;
    EXPECT_EQ(failed.error().kind, FailureKind::retryable) << f << ": " << failed.error().message;
    clear_faults();
    auto recovered = balance(*provider, c.account, currency);
    ASSERT_TRUE(recovered) << f << ": " << recovered.error().message;
  }
}

TEST_P(Contract, AHangingGatewayTimesOutAsRetryable) {
  const Case& c = GetParam();
  const std::string family = c.type == "generic_http" ? "generic" : c.type;
  auto config = provider_config(c.type, sandbox_->url());
  config.http.request_timeout = std::chrono::milliseconds(300);
  auto provider = make(config);
  fault(fmt::format(R"({{"provider": "{}", "hang": true}})", family));
  auto result = balance(*provider, c.account, std::string(money(c.balance.c_str()).currency().code()));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::retryable);
  EXPECT_EQ(result.error().reason, "timeout");
}

// The six providers against the sandbox's accounts (configured without drain).
const std::vector<Case> kCases = {
    {"stripe", "acct_payouts", "USD 1_234.56", "acct_missing"},
    {"xendit", "master", "IDR 50_000_000", "sub_missing"},  // holds .25; Xendit answers whole rupiah
    {"snap", "1234567890", "IDR 5_000_000", "000"},
    {"midtrans_iris", "aggregator", "IDR 80_000_000.50", "ba_missing"},
    {"flip", "main", "IDR 30_000_000", ""},  // one balance per key: no unknown account
    {"generic_http", "wallet", "IDR 10_000_000.07", "nobody"},
};

std::vector<Case> cases_with_accounts() {
  std::vector<Case> out;
  for (const auto& c : kCases) {
    if (!c.missing_account.empty()) out.push_back(c);
  }
  return out;
}

std::string case_name(const ::testing::TestParamInfo<Case>& param) { return param.param.type; }

INSTANTIATE_TEST_SUITE_P(Providers, Contract, ::testing::ValuesIn(kCases), case_name);
INSTANTIATE_TEST_SUITE_P(Providers, UnknownAccount, ::testing::ValuesIn(cases_with_accounts()), case_name);

TEST_F(Gateways, XenditReadsSubAccountsThroughForUserId) {
  auto result = balance(*make(provider_config("xendit", sandbox_->url())), "sub_1", "IDR");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->minor(), 700000);
}

TEST_F(Gateways, StripeTopUpUnderOneKeyMovesMoneyOnce) {
  auto stripe = make(provider_config("stripe", sandbox_->url()));
  const TopUpRequest request{"contract-once-1", core::TopUpMethod::direct_debit, "acct_payouts", "", money("USD 100")};
  auto first = run(io_, stripe->submit(request));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, adapters::ProviderTopUpStatus::pending);
  auto second = run(io_, stripe->submit(request));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->reference, first->reference);
  const auto keys_in_ledger = ledger_keys(sandbox_->ledger());
  EXPECT_EQ(std::count(keys_in_ledger.begin(), keys_in_ledger.end(), "stripe:contract-once-1"), 1);

  // The same key with another amount is refused, not executed.
  TopUpRequest changed = request;
  changed.amount = money("USD 101");
  auto refused = run(io_, stripe->submit(changed));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, FailureKind::not_retryable);
  EXPECT_EQ(refused.error().reason, "idempotency_mismatch");

  // Found by reference and, when no answer ever came, by the key in its metadata.
  auto by_reference = run(io_, stripe->look_up(request, first->reference));
  ASSERT_TRUE(by_reference && *by_reference);
  EXPECT_EQ((*by_reference)->reference, first->reference);
  auto by_key = run(io_, stripe->look_up(request, ""));
  ASSERT_TRUE(by_key && *by_key);
  EXPECT_EQ((*by_key)->reference, first->reference);
  const TopUpRequest never{"contract-never-sent", core::TopUpMethod::direct_debit, "acct_payouts", "", money("USD 1")};
  auto absent = run(io_, stripe->look_up(never, ""));
  ASSERT_TRUE(absent);
  EXPECT_FALSE(*absent);

  // It settles after the sandbox's delay and is then reported succeeded.
  ASSERT_TRUE(eventually([&] {
    auto settled = run(io_, stripe->look_up(request, first->reference));
    return settled && *settled && (*settled)->status == adapters::ProviderTopUpStatus::succeeded;
  }, std::chrono::seconds(5)));
}

TEST_F(Gateways, StripeAnswerLostAfterTheTopUpIsUnknownAndFoundByLookUp) {
  auto stripe = make(provider_config("stripe", sandbox_->url()));
  fault(R"({"provider": "stripe", "reset": true, "after_apply": true, "count": 1})");
  const TopUpRequest request{"contract-lost-1", core::TopUpMethod::direct_debit, "acct_payouts", "", money("USD 7")};
  auto lost = run(io_, stripe->submit(request));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind, FailureKind::outcome_unknown);
  auto found = run(io_, stripe->look_up(request, ""));
  ASSERT_TRUE(found && *found) << "the top-up the gateway applied must be found by its key";
  const auto keys_in_ledger = ledger_keys(sandbox_->ledger());
  EXPECT_EQ(std::count(keys_in_ledger.begin(), keys_in_ledger.end(), "stripe:contract-lost-1"), 1);
}

TEST_F(Gateways, StripeServerErrorOnATopUpIsUnknownNotRetried) {
  auto config = provider_config("stripe", sandbox_->url());
  config.http.max_attempts = 3;  // even with retries on, a top-up is sent once
  auto stripe = make(config);
  fault(R"({"provider": "stripe", "status": 500, "after_apply": true, "count": 1})");
  const TopUpRequest request{"contract-500-1", core::TopUpMethod::direct_debit, "acct_payouts", "", money("USD 3")};
  auto result = run(io_, stripe->submit(request));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::outcome_unknown);
  const auto keys_in_ledger = ledger_keys(sandbox_->ledger());
  EXPECT_EQ(std::count(keys_in_ledger.begin(), keys_in_ledger.end(), "stripe:contract-500-1"), 1);
}

TEST_F(Gateways, SnapDirectDebitIsSentOnceAndQueriedByStatus) {
  auto snap = make(provider_config("snap", sandbox_->url()));
  const TopUpRequest request{"contract-snap-debit-1", core::TopUpMethod::direct_debit, "1234567890", "card-token-1",
                             money("IDR 250_000")};
  auto first = run(io_, snap->submit(request));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, adapters::ProviderTopUpStatus::pending);
  // The same partnerReferenceNo again: the bank answers 409xx01 and topupd reads the status.
  auto again = run(io_, snap->submit(request));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->reference, first->reference);
  const std::string key = "snap:" + adapters::snap_partner_reference(request.idempotency_key);
  const auto keys_in_ledger = ledger_keys(sandbox_->ledger());
  EXPECT_EQ(std::count(keys_in_ledger.begin(), keys_in_ledger.end(), key), 1);
  ASSERT_TRUE(eventually([&] {
    auto status = run(io_, snap->look_up(request, ""));
    return status && *status && (*status)->status == adapters::ProviderTopUpStatus::succeeded;
  }, std::chrono::seconds(5)));
  auto balance_after = balance(*snap, "1234567890", "IDR");
  ASSERT_TRUE(balance_after);
  EXPECT_EQ(balance_after->minor(), money("IDR 5_250_000").minor());
}

TEST_F(Gateways, XenditIssuesAClosedSingleUseTicketAndRefusesAFractionOfARupiah) {
  auto xendit = make(provider_config("xendit", sandbox_->url()));
  const core::Timestamp expires = std::chrono::floor<std::chrono::seconds>(adapters::SystemClock().now()) + std::chrono::hours(6);
  const adapters::TicketRequest request{"contract-ticket-1", "master", "BNI", "PT Example", money("IDR 1_500_000"), expires};
  auto ticket = run(io_, xendit->issue_ticket(request));
  ASSERT_TRUE(ticket) << ticket.error().message;
  EXPECT_EQ(ticket->reference.rfind("fva_", 0), 0u);
  EXPECT_EQ(ticket->bank, "BNI");
  EXPECT_EQ(ticket->account_no.rfind("8808", 0), 0u);
  EXPECT_EQ(ticket->name, "PT Example");
  EXPECT_EQ(ticket->expires_at, expires);
  auto fraction = request;
  fraction.amount = money("IDR 1_500_000.50");
  auto refused = run(io_, xendit->issue_ticket(fraction));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, FailureKind::not_retryable);
  EXPECT_EQ(refused.error().reason, "invalid_amount");
}

TEST_F(Gateways, SnapPaysATicketInterbankOnceUnderOneKeyAfterCheckingItsName) {
  auto xendit = make(provider_config("xendit", sandbox_->url()));
  const adapters::TicketRequest asked{"contract-deposit-1", "master", "BNI", "PT Example", money("IDR 2_000_000"),
                                      adapters::SystemClock().now() + std::chrono::hours(1)};
  auto ticket = run(io_, xendit->issue_ticket(asked));
  ASSERT_TRUE(ticket) << ticket.error().message;
  auto snap = make(provider_config("snap", sandbox_->url()));
  TopUpRequest request{"contract-deposit-1", core::TopUpMethod::deposit, "master", "9876543210", money("IDR 2_000_000")};
  request.pay_to = *ticket;
  auto renamed = request;
  renamed.pay_to->name = "PT Somebody Else";
  auto refused = run(io_, snap->submit(renamed));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().reason, "beneficiary_name_mismatch");
  const std::string key = "snap:" + adapters::snap_partner_reference(request.idempotency_key);
  const auto before = ledger_keys(sandbox_->ledger());
  EXPECT_EQ(std::count(before.begin(), before.end(), key), 0) << "a renamed beneficiary was paid";
  auto first = run(io_, snap->submit(request));
  ASSERT_TRUE(first) << first.error().message;
  auto again = run(io_, snap->submit(request));  // 409xx01: the status inquiry answers
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->reference, first->reference);
  const auto keys_in_ledger = ledger_keys(sandbox_->ledger());
  EXPECT_EQ(std::count(keys_in_ledger.begin(), keys_in_ledger.end(), key), 1);
  ASSERT_TRUE(eventually([&] {
    auto status = run(io_, snap->look_up(request, ""));
    return status && *status && (*status)->status == adapters::ProviderTopUpStatus::succeeded;
  }, std::chrono::seconds(5)));
  // The ticket is single-use: a second payment to it is refused by the bank.
  TopUpRequest second = request;
  second.idempotency_key = "contract-deposit-2";
  auto inactive = run(io_, snap->submit(second));
  ASSERT_FALSE(inactive);
  EXPECT_EQ(inactive.error().kind, FailureKind::not_retryable);
}

TEST_F(Gateways, SnapTimeoutOnADebitIsUnknownAndTheStatusIsQueried) {
  auto snap = make(provider_config("snap", sandbox_->url()));
  ASSERT_TRUE(balance(*snap, "9876543210", "IDR"));  // holds a token: the fault hits the debit itself
  fault(R"({"provider": "snap", "status": 504, "after_apply": true, "count": 1})");
  const TopUpRequest request{"contract-snap-504", core::TopUpMethod::direct_debit, "9876543210", "card-token-1",
                             money("IDR 1_000")};
  auto result = run(io_, snap->submit(request));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::outcome_unknown);
  auto status = run(io_, snap->look_up(request, ""));
  ASSERT_TRUE(status && *status);
  const TopUpRequest never{"contract-snap-never", core::TopUpMethod::direct_debit, "9876543210", "t", money("IDR 1")};
  auto absent = run(io_, snap->look_up(never, ""));
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_FALSE(*absent);
}

TEST_F(Gateways, SnapSweepMovesBetweenAccountsAndInsufficientFundsIsItsOwnOutcome) {
  auto snap = make(provider_config("snap", sandbox_->url()));
  const TopUpRequest too_much{"contract-sweep-big", core::TopUpMethod::sweep, "1234567890", "9876543210",
                              money("IDR 500_000_000")};
  auto refused = run(io_, snap->submit(too_much));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, FailureKind::not_retryable);
  EXPECT_EQ(refused.error().reason, "insufficient_funds");
  auto source_before = balance(*snap, "9876543210", "IDR");
  ASSERT_TRUE(source_before);
  const TopUpRequest sweep{"contract-sweep-1", core::TopUpMethod::sweep, "1234567890", "9876543210",
                           money("IDR 1_000_000")};
  auto sent = run(io_, snap->submit(sweep));
  ASSERT_TRUE(sent) << sent.error().message;
  auto source_after = balance(*snap, "9876543210", "IDR");
  ASSERT_TRUE(source_after);
  EXPECT_EQ(source_before->minor() - source_after->minor(), money("IDR 1_000_000").minor());
  auto status = run(io_, snap->look_up(sweep, ""));
  ASSERT_TRUE(status && *status);
}

TEST_F(Gateways, SnapRenewsAnExpiredTokenAndRetriesOnce) {
  auto snap = make(provider_config("snap", sandbox_->url()));
  ASSERT_TRUE(balance(*snap, "1234567890", "IDR"));
  ASSERT_EQ(sandbox_->post("/_sandbox/snap/expire-tokens", "").status, 200);
  auto result = balance(*snap, "1234567890", "IDR");
  EXPECT_TRUE(result) << result.error().message;
}

TEST_F(Gateways, SnapSignatureWithTheWrongPrivateKeyIsRefused) {
  auto config = provider_config("snap", sandbox_->url());
  config.snap.private_key = read_file(keys().file("sandbox.key"));  // not the key the bank knows
  auto result = balance(*make(config), "1234567890", "IDR");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, "unauthorized");
}

TEST_F(Gateways, ACircuitBreakerStopsCallingAFailingGateway) {
  auto config = provider_config("flip", sandbox_->url());
  config.http.breaker_failures = 3;
  config.http.breaker_open_for = std::chrono::seconds(60);
  auto flip = make(config);
  fault(R"({"provider": "flip", "status": 502})");
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(balance(*flip, "main", "IDR"));
  clear_faults();
  auto result = balance(*flip, "main", "IDR");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, "circuit_open");
  EXPECT_EQ(result.error().kind, FailureKind::retryable);
}

TEST_F(Gateways, DuplicatingWebhooksLeavesRequestsAlone) {
  fault(R"({"provider": "flip", "duplicate_webhooks": true})");
  auto result = balance(*make(provider_config("flip", sandbox_->url())), "main", "IDR");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->minor(), money("IDR 30_000_000").minor());
}

TEST_F(Gateways, IdempotentReadsAreRetriedThroughAShortBurst) {
  auto config = provider_config("xendit", sandbox_->url());
  config.http.max_attempts = 3;
  auto xendit = make(config);
  fault(R"({"provider": "xendit", "status": 503, "count": 2})");
  auto result = balance(*xendit, "master", "IDR");
  EXPECT_TRUE(result) << result.error().message;
}

// ---------------------------------------------------------------- TLS and proxies

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<TempDir>();
    make_ca(*certs_);
    make_server_cert(*certs_, "good", "IP:127.0.0.1,DNS:localhost");
    make_server_cert(*certs_, "wrong-name", "DNS:bank.example");
  }
  static void TearDownTestSuite() { certs_.reset(); }

  ProviderResult<Money> read_over_tls(const std::string& cert, const std::string& ca_file,
                                      std::optional<std::string> proxy = std::string()) {
    Sandbox sandbox("", {"--tls-cert", certs_->file(cert + ".pem"), "--tls-key", certs_->file(cert + ".key")});
    auto config = provider_config("flip", "https://127.0.0.1:" + std::to_string(sandbox.port()));
    config.api_key = "flip-sandbox-secret";  // the built-in gateways
    config.http.ca_file = ca_file;
    config.http.proxy = proxy;
    auto provider = adapters::make_http_provider(config, io_.get_executor(), clock_, random_);
    const adapters::BalanceQuery query{"main", "available", *core::Currency::find("IDR")};
    return run(io_, provider->balance(query));
  }

  static std::unique_ptr<TempDir> certs_;
  asio::io_context io_;
  adapters::SystemClock clock_;
  adapters::SystemRandom random_;
};
std::unique_ptr<TempDir> Tls::certs_;

TEST_F(Tls, ACertificateFromTheConfiguredCaIsAccepted) {
  auto result = read_over_tls("good", certs_->file("ca.pem"));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->is_positive());
}

TEST_F(Tls, AnUntrustedCertificateIsRefused) {
  auto result = read_over_tls("good", "");  // the system store does not know the test CA
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::not_retryable);
  EXPECT_EQ(result.error().reason, "tls_untrusted");
}

TEST_F(Tls, ACertificateForAnotherHostIsRefused) {
  auto result = read_over_tls("wrong-name", certs_->file("ca.pem"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, "tls_untrusted");
}

TEST_F(Tls, HttpsGoesThroughAConnectProxy) {
  TempDir dir;
  Process proxy({TOPUPD_NODE, std::string(TOPUPD_SOURCE_DIR) + "/tests/integration/peers/connect_proxy.js"}, {},
                dir.file("proxy.log"));
  const std::string port = wait_for_line(dir.file("proxy.log"), R"(proxy listening on (\d+))");
  unsetenv("NO_PROXY");
  unsetenv("no_proxy");
  auto result = read_over_tls("good", certs_->file("ca.pem"), "http://user:secret@127.0.0.1:" + port);
  ASSERT_TRUE(result) << result.error().message;
  const std::string log = read_file(dir.file("proxy.log"));
  EXPECT_NE(log.find("CONNECT 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find("auth=Basic dXNlcjpzZWNyZXQ="), std::string::npos) << log;  // base64("user:secret")
}

// ---------------------------------------------------------------- webhooks and the official client

TEST(SandboxWebhooks, SnapNotificationsAreSignedWithTheSandboxKey) {
  // The receiver runs on its own thread: the provider calls below run their own loop.
  asio::io_context receiver_io;
  std::mutex mutex;
  std::vector<adapters::net::ServerRequest> received;
  adapters::net::Server receiver(receiver_io, {}, [&](const adapters::net::ServerRequest& r) {
    std::lock_guard lock(mutex);
    received.push_back(r);
    return adapters::net::ServerResponse::json(200, R"({"responseCode":"2005600","responseMessage":"Successful"})");
  });
  const std::string address = receiver.listen("127.0.0.1", 0);
  std::thread receiver_thread([&] { receiver_io.run(); });
  struct Join {
    asio::io_context& io;
    std::thread& thread;
    ~Join() {
      io.stop();
      thread.join();
    }
  } join{receiver_io, receiver_thread};

  Sandbox sandbox(sandbox_config(keys(), "http://" + address + "/snap/v1.0/debit/notify"));
  asio::io_context io;
  adapters::SystemClock clock;
  adapters::SystemRandom random;
  auto snap = adapters::make_http_provider(provider_config("snap", sandbox.url()), io.get_executor(), clock, random);
  const TopUpRequest request{"webhook-debit-1", core::TopUpMethod::direct_debit, "1234567890", "card", money("IDR 10_000")};
  ASSERT_TRUE(run(io, snap->submit(request)));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return !received.empty();
  }, std::chrono::seconds(10)));
  std::lock_guard lock(mutex);
  ASSERT_EQ(received.size(), 1u);
  const auto& hook = received.front();
  EXPECT_EQ(hook.path, "/snap/v1.0/debit/notify");
  const std::string timestamp = hook.header("X-TIMESTAMP").value_or("");
  const std::string signed_text =
      "POST:" + hook.path + ":" + adapters::crypto::hex(adapters::crypto::sha256(hook.body)) + ":" + timestamp;
  auto signature = adapters::crypto::unbase64(hook.header("X-SIGNATURE").value_or(""));
  ASSERT_TRUE(signature);
  EXPECT_TRUE(adapters::crypto::rsa_sha256_verify(read_file(keys().file("sandbox.pub")), signed_text, *signature));
  // And independently, with the openssl command line.
  TempDir dir;
  dir.write("data", signed_text);
  dir.write("sig", *signature);
  auto verified = run_command({TOPUPD_OPENSSL, "dgst", "-sha256", "-verify", keys().file("sandbox.pub"), "-signature",
                               dir.file("sig"), dir.file("data")});
  EXPECT_EQ(verified.status, 0) << verified.output;
  EXPECT_NE(hook.body.find(R"("latestTransactionStatus":"00")"), std::string::npos);
  // topupd's own verifier accepts it, and refuses it with one byte changed or too late.
  adapters::webhooks::Incoming in{"POST", hook.path, hook.headers, hook.body, clock.now()};
  const std::string sandbox_key = read_file(keys().file("sandbox.pub"));
  EXPECT_TRUE(adapters::webhooks::verify_snap(in, sandbox_key, std::chrono::minutes(5)).ok());
  auto tampered = in;
  tampered.body.replace(tampered.body.find("\"00\""), 4, "\"06\"");
  EXPECT_EQ(adapters::webhooks::verify_snap(tampered, sandbox_key, std::chrono::minutes(5)).verdict,
            adapters::webhooks::Verdict::bad_signature);
  // The same signature bytes spelled with a padding bit set (a lenient decoder reads them
  // as the genuine ones) are not the genuine header.
  auto respelled = in;
  for (auto& [name, value] : respelled.headers) {
    if (name != "X-SIGNATURE") continue;
    const std::size_t last = value.find_last_not_of('=');
    ASSERT_LT(last, value.size() - 1) << "a 2048-bit signature ends in padding";
    value[last] = static_cast<char>(value[last] + 1);  // within one letter run: low bits only
  }
  EXPECT_EQ(adapters::webhooks::verify_snap(respelled, sandbox_key, std::chrono::minutes(5)).verdict,
            adapters::webhooks::Verdict::malformed);
  auto late = in;
  late.now += std::chrono::minutes(6);
  EXPECT_EQ(adapters::webhooks::verify_snap(late, sandbox_key, std::chrono::minutes(5)).verdict,
            adapters::webhooks::Verdict::stale);
  EXPECT_NE(hook.body.find(adapters::snap_partner_reference(request.idempotency_key)), std::string::npos);
}

TEST(StripeNpm, TheOfficialClientTalksToTheSandbox) {
  Sandbox sandbox(sandbox_config(keys()));
  const std::string script = std::string(TOPUPD_SOURCE_DIR) + "/tests/integration/peers/stripe_peer.js";
  auto result = run_command({TOPUPD_NODE, script, "client", std::to_string(sandbox.port()), "sk_test_contract"});
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string& out = result.output;
  EXPECT_NE(out.find(R"("available":123456,"currency":"usd")"), std::string::npos) << out;
  std::smatch first, second;
  ASSERT_TRUE(std::regex_search(out, first, std::regex(R"#("first":"(tu_[^"]+)")#"))) << out;
  ASSERT_TRUE(std::regex_search(out, second, std::regex(R"#("second":"(tu_[^"]+)")#"))) << out;
  EXPECT_EQ(first[1], second[1]) << "one idempotency key, one top-up";
  EXPECT_NE(out.find(R"("replayed":"true")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("mismatch":"StripeIdempotencyError")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("unauthorized":"StripeAuthenticationError")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("amount":5000)"), std::string::npos) << out;
  const auto keys_in_ledger = ledger_keys(sandbox.ledger());
  EXPECT_EQ(std::count(keys_in_ledger.begin(), keys_in_ledger.end(), "stripe:stripe-node-key-1"), 1);
}

TEST(StripeNpm, TopupdAcceptsTheHeadersTheOfficialLibraryMakes) {
  TempDir dir;
  const std::string body = R"({"id":"evt_npm_1","object":"event","type":"topup.succeeded","data":{"object":{"id":"tu_1"}}})";
  dir.write("payload.json", body);
  const std::string script = std::string(TOPUPD_SOURCE_DIR) + "/tests/integration/peers/stripe_peer.js";
  auto signed_by_npm = run_command({TOPUPD_NODE, script, "sign", dir.file("payload.json"), "whsec_npm", "1700000000"});
  ASSERT_EQ(signed_by_npm.status, 0) << signed_by_npm.output;
  std::string header = signed_by_npm.output;
  while (!header.empty() && (header.back() == '\n' || header.back() == '\r')) header.pop_back();
  ASSERT_EQ(header.rfind("t=1700000000,v1=", 0), 0u) << header;
  using adapters::webhooks::Verdict;
  const auto now = core::Timestamp(std::chrono::seconds(1700000100));
  auto check = [&](const std::string& secret, const std::string& payload, core::Timestamp when) {
    return adapters::webhooks::verify_stripe({"POST", "/webhooks/stripe", {{"Stripe-Signature", header}}, payload, when},
                                             secret, std::chrono::seconds(300))
        .verdict;
  };
  EXPECT_EQ(check("whsec_npm", body, now), Verdict::accepted);
  EXPECT_EQ(check("whsec_other", body, now), Verdict::bad_signature);
  EXPECT_EQ(check("whsec_npm", body + " ", now), Verdict::bad_signature);
  EXPECT_EQ(check("whsec_npm", body, now + std::chrono::seconds(301)), Verdict::stale);
}

TEST(StripeNpm, ConstructEventAcceptsTheSandboxWebhooks) {
  TempDir dir;
  const std::string script = std::string(TOPUPD_SOURCE_DIR) + "/tests/integration/peers/stripe_peer.js";
  Process receiver({TOPUPD_NODE, script, "receive", "whsec_contract"}, {}, dir.file("receiver.log"));
  const std::string port = wait_for_line(dir.file("receiver.log"), R"(receiver listening on (\d+))");
  std::string config = sandbox_config(keys());
  config = std::regex_replace(config, std::regex("    settle_after: 1s\n    accounts:\n      acct_payouts"),
                              "    settle_after: 1s\n    webhook_url: http://127.0.0.1:" + port +
                                  "/webhooks/stripe\n    accounts:\n      acct_payouts");
  Sandbox sandbox(config);
  asio::io_context io;
  adapters::SystemClock clock;
  adapters::SystemRandom random;
  auto stripe = adapters::make_http_provider(provider_config("stripe", sandbox.url()), io.get_executor(), clock, random);
  const TopUpRequest request{"webhook-stripe-1", core::TopUpMethod::direct_debit, "acct_payouts", "", money("USD 42")};
  auto receipt = run(io, stripe->submit(request));
  ASSERT_TRUE(receipt) << receipt.error().message;
  const std::string line = wait_for_line(dir.file("receiver.log"), R"((\{"verified":.*\}))", std::chrono::seconds(10));
  EXPECT_NE(line.find(R"("verified":true)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("type":"topup.succeeded")"), std::string::npos) << line;
  EXPECT_NE(line.find(receipt->reference), std::string::npos) << line;
}

// ---------------------------------------------------------------- the daemon on a misbehaving gateway

// A daemon polling the sandbox's Stripe payouts account every 200 ms, once it has its
// first balance; `request` bounds each HTTP request, `poll` each poll.
std::string stripe_poller(const Sandbox& sandbox, const std::string& request, const std::string& poll) {
  return fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
providers:
  stripe:
    type: stripe
    base_url: {}
    api_key: sk_test_contract
    retries: 0
    timeouts: {{request: {}}}
accounts:
  payouts: {{provider: stripe, id: acct_payouts, currency: USD, poll: {{every: 200ms, timeout: {}, max_backoff: 1s}}}}
)",
                     sandbox.url(), request, poll);
}

void wait_for_first_balance(Daemon& daemon) {
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] { return sample(daemon.get("/metrics").body, "topupd_balance", {"payouts"}) == 123456; },
                         std::chrono::seconds(10)));
}

TEST(DaemonOnSandbox, FaultsMakeTheBalanceStaleAndAreCountedWithoutACrash) {
  Sandbox sandbox(sandbox_config(keys()));
  Daemon daemon(stripe_poller(sandbox, "300ms", "1s"));
  wait_for_first_balance(daemon);
  if (HasFatalFailure()) return;
  for (const std::string& f : {std::string(R"("status": 503)"), std::string(R"("malformed": true)"),
                               std::string(R"("reset": true)"), std::string(R"("hang": true)")}) {
    SCOPED_TRACE(f);
    ASSERT_EQ(sandbox.post("/_sandbox/faults", R"({"provider": "stripe", )" + f + "}").status, 200);
    ASSERT_TRUE(eventually([&] {
      return sample(daemon.get("/metrics").body, "topupd_balance_stale", {"payouts"}) == 1;
    }, std::chrono::seconds(10))) << daemon.log();
    EXPECT_EQ(daemon.get("/healthz").status, 200);
    http_request("DELETE", "127.0.0.1", sandbox.port(), "/_sandbox/faults", "");
    ASSERT_TRUE(eventually([&] {
      return sample(daemon.get("/metrics").body, "topupd_balance_stale", {"payouts"}) == 0;
    }, std::chrono::seconds(10))) << daemon.log();
  }
  const std::string metrics = daemon.get("/metrics").body;
  EXPECT_GE(sample(metrics, "topupd_poll_errors_total", {"payouts", "http_503"}).value_or(0), 1);
  EXPECT_GE(sample(metrics, "topupd_poll_errors_total", {"payouts", "malformed_response"}).value_or(0), 1);
  EXPECT_GE(sample(metrics, "topupd_poll_errors_total", {"payouts", "reset"}).value_or(0), 1);
  EXPECT_GE(sample(metrics, "topupd_poll_errors_total", {"payouts", "timeout"}).value_or(0), 1);
  EXPECT_EQ(daemon.log().find("sk_test_contract"), std::string::npos) << "the API key must never be logged";
}

TEST(DaemonOnSandbox, ThePollTimeoutCutsOffAHangingGatewayBeforeTheRequestTimeout) {
  Sandbox sandbox(sandbox_config(keys()));
  // The HTTP client would wait 30 s; poll.timeout (300 ms) must cancel the request.
  Daemon daemon(stripe_poller(sandbox, "30s", "300ms"));
  wait_for_first_balance(daemon);
  if (HasFatalFailure()) return;
  ASSERT_EQ(sandbox.post("/_sandbox/faults", R"({"provider": "stripe", "hang": true})").status, 200);
  ASSERT_TRUE(eventually([&] {
    return sample(daemon.get("/metrics").body, "topupd_poll_errors_total", {"payouts", "timeout"}).value_or(0) >= 2;
  }, std::chrono::seconds(5))) << daemon.log();
  EXPECT_EQ(sample(daemon.get("/metrics").body, "topupd_balance_stale", {"payouts"}), 1);
  EXPECT_NE(daemon.log().find("no answer within 300ms"), std::string::npos) << daemon.log();
  http_request("DELETE", "127.0.0.1", sandbox.port(), "/_sandbox/faults", "");
  EXPECT_TRUE(eventually([&] {
    return sample(daemon.get("/metrics").body, "topupd_balance_stale", {"payouts"}) == 0;
  }, std::chrono::seconds(5))) << daemon.log();
}

TEST(DaemonOnSandbox, PollsWaitingBehindTheRateLimitAreNotTheGatewaysTimeout) {
  Sandbox sandbox(sandbox_config(keys()));
  // One read a second, both accounts due at the same instant: the second waits about a
  // second for its turn inside topupd, more than its poll.timeout of 300 ms.
  Daemon daemon(fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
providers:
  xendit:
    type: xendit
    base_url: {}
    api_key: xnd_development_contract
    retries: 0
    rate_limit: {{per_second: 1}}
accounts:
  master: {{provider: xendit, id: master, currency: IDR, poll: {{every: 2s, timeout: 300ms, jitter: 0%}}}}
  sub: {{provider: xendit, id: sub_1, currency: IDR, poll: {{every: 2s, timeout: 300ms, jitter: 0%}}}}
)",
                            sandbox.url()));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  // Three rounds of polls: every one of them answered, none counted as a failure.
  ASSERT_TRUE(eventually([&] {
    return sample(daemon.get("/metrics").body, "topupd_poll_duration_seconds_count", {"xendit"}).value_or(0) >= 6;
  }, std::chrono::seconds(15))) << daemon.log();
  const std::string metrics = daemon.get("/metrics").body;
  EXPECT_EQ(sample(metrics, "topupd_balance", {"master"}), 5000000000);  // minor units, whole rupiah
  EXPECT_EQ(sample(metrics, "topupd_balance", {"sub"}), 700000);
  EXPECT_EQ(daemon.log().find("balance poll failed"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace topupd::testing
