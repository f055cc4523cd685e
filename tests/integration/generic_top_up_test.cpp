// A top-up through any HTTP API (generic_http's top_up block) against the stand-alone
// sandbox's generic API: the key reaches the gateway, one key moves money once, an
// unknown outcome is found by the status look-up, states map to ours — and end to end
// through the daemon, with the sandbox's ledger as the witness.
#include <gtest/gtest.h>

#include <thread>

#include "integration/harness.hpp"
#include "integration/provider_run.hpp"
#include "integration/sandbox.hpp"
#include "topupd/adapters/providers/http_providers.hpp"
#include "topupd/adapters/sys/system_clock.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;
using adapters::FailureKind;
using adapters::ProviderTopUpStatus;
using adapters::TopUpRequest;
using core::Money;

Money money(const char* text) { return *core::parse_money(text).value; }

constexpr const char* kSandbox = R"(
gateways:
  generic:
    token: generic-top-ups
    settle_after: 300ms
    accounts:
      wallet: {balance: IDR 1_000_000, drain_per_minute: IDR 600_000}
)";

config::ProviderConfig generic(const std::string& base) {
  config::ProviderConfig c;
  c.name = "wallet-api";
  c.type = config::ProviderType::generic_http;
  c.http.base_url = base;
  c.http.max_attempts = 1;
  c.http.breaker_failures = 1000;
  c.http.request_timeout = std::chrono::seconds(5);
  c.http.proxy = "";
  c.generic.url = base + "/generic/accounts/{account}/balance";
  c.generic.bearer_token = "generic-top-ups";
  c.generic.amount_pointer = "/data/balance/minor";
  c.generic.currency_pointer = "/data/balance/currency";
  auto& t = c.generic.top_up;
  t.enabled = true;
  t.request = {"POST", base + "/generic/accounts/{account}/topups",
               R"({"amount": {"value": "{amount}", "currency": "{currency}"}, "reference": "{key}", "from": "{source}"})",
               "/data/id", "/data/status"};
  t.status = {"GET", base + "/generic/topups?reference={key}", "", "/data/0/id", "/data/0/status"};
  t.amount_form = "major";
  t.idempotency_header = "Idempotency-Key";
  t.states = {{"PENDING", "pending"}, {"COMPLETED", "succeeded"}, {"FAILED", "failed"}};
  return c;
}

class GenericTopUp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { sandbox_ = std::make_unique<Sandbox>(kSandbox); }
  static void TearDownTestSuite() { sandbox_.reset(); }
  void TearDown() override { http_request("DELETE", "127.0.0.1", sandbox_->port(), "/_sandbox/faults", ""); }

  std::shared_ptr<adapters::Provider> make() {
    return adapters::make_http_provider(generic(sandbox_->url()), io_.get_executor(), clock_, random_);
  }
  static long count_in_ledger(const std::string& key) {
    const auto keys = ledger_keys(sandbox_->ledger());
    return std::count(keys.begin(), keys.end(), "generic:" + key);
  }

  static std::unique_ptr<Sandbox> sandbox_;
  boost::asio::io_context io_;
  adapters::SystemClock clock_;
  adapters::SystemRandom random_;
};
std::unique_ptr<Sandbox> GenericTopUp::sandbox_;

TEST_F(GenericTopUp, OneKeyMovesMoneyOnceAndIsFoundByItsKeyUntilItSettles) {
  auto api = make();
  const TopUpRequest request{"generic-once-1", core::TopUpMethod::direct_debit, "wallet", "bca-001",
                             money("IDR 250_000.50")};
  auto first = run(io_, api->submit(request));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, ProviderTopUpStatus::pending);
  EXPECT_EQ(first->reference.rfind("sbx_", 0), 0u) << first->reference;
  auto again = run(io_, api->submit(request));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->reference, first->reference);
  EXPECT_EQ(count_in_ledger("generic-once-1"), 1);
  // The exact amount, in major units as the template asked, reached the gateway.
  EXPECT_NE(sandbox_->ledger().find(R"("amount_minor":25000050,"currency":"IDR","idempotency_key":"generic:generic-once-1")"),
            std::string::npos)
      << sandbox_->ledger();

  const TopUpRequest never{"generic-never-sent", core::TopUpMethod::direct_debit, "wallet", "", money("IDR 1")};
  auto absent = run(io_, api->look_up(never, ""));
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_FALSE(*absent);
  ASSERT_TRUE(eventually([&] {
    auto found = run(io_, api->look_up(request, ""));
    return found && *found && (*found)->status == ProviderTopUpStatus::succeeded && (*found)->reference == first->reference;
  }, 5s));
}

TEST_F(GenericTopUp, AnAnswerLostAfterTheGatewayAppliedItIsUnknownAndFoundByTheLookUp) {
  auto api = make();
  ASSERT_EQ(sandbox_->post("/_sandbox/faults", R"({"provider": "generic", "reset": true, "after_apply": true, "count": 1})")
                .status,
            200);
  const TopUpRequest request{"generic-lost-1", core::TopUpMethod::direct_debit, "wallet", "", money("IDR 7_000")};
  auto lost = run(io_, api->submit(request));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind, FailureKind::outcome_unknown);
  auto found = run(io_, api->look_up(request, ""));
  ASSERT_TRUE(found && *found) << "the top-up the gateway applied must be found by its key";
  EXPECT_EQ(count_in_ledger("generic-lost-1"), 1);
}

TEST_F(GenericTopUp, AGatewayStateOutsideTheTableStaysPendingAndARefusalMovesNothing) {
  auto config = generic(sandbox_->url());
  config.generic.top_up.states = {{"DONE", "succeeded"}, {"FAILED", "failed"}};  // COMPLETED is not named
  auto api = adapters::make_http_provider(config, io_.get_executor(), clock_, random_);
  const TopUpRequest request{"generic-unmapped-1", core::TopUpMethod::direct_debit, "wallet", "", money("IDR 1_000")};
  ASSERT_TRUE(run(io_, api->submit(request)));
  std::this_thread::sleep_for(500ms);  // settled (COMPLETED) at the gateway by now
  auto found = run(io_, api->look_up(request, ""));
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->status, ProviderTopUpStatus::pending);
  // An account the gateway does not know: refused (4xx), not retried, nothing in the ledger.
  const TopUpRequest nowhere{"generic-nowhere-1", core::TopUpMethod::direct_debit, "nobody", "", money("IDR 1_000")};
  auto refused = run(io_, api->submit(nowhere));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, FailureKind::not_retryable);
  EXPECT_EQ(count_in_ledger("generic-nowhere-1"), 0);
}

TEST(GenericTopUpDaemon, ARuleTopsUpThroughTheGenericApiExactlyOnce) {
  Sandbox sandbox(kSandbox);
  Daemon daemon(fmt::format(R"(http: {{listen: 127.0.0.1:0}}
log: {{level: debug}}
providers:
  wallet-api:
    type: generic_http
    url: "{0}/generic/accounts/{{account}}/balance"
    auth: {{bearer: generic-top-ups}}
    amount: {{pointer: /data/balance/minor, form: minor, currency: IDR}}
    top_up:
      request:
        url: "{0}/generic/accounts/{{account}}/topups"
        body: '{{"amount": {{"value": "{{amount}}", "currency": "{{currency}}"}}, "reference": "{{key}}"}}'
        reference: /data/id
        state: /data/status
      status: {{url: "{0}/generic/topups?reference={{key}}", reference: /data/0/id, state: /data/0/status}}
      amount_form: major
      idempotency_header: Idempotency-Key
      states: {{PENDING: pending, COMPLETED: succeeded, FAILED: failed}}
accounts:
  wallet: {{provider: wallet-api, currency: IDR, poll: {{every: 200ms, timeout: 2s, jitter: 0%}}}}
rules:
  - name: wallet-low
    account: wallet
    when: {{below: IDR 1_000_000}}
    clear: {{above: IDR 1_500_000}}
    top_up: {{method: direct_debit, amount: {{fixed: IDR 2_000_000}}, limits: {{cooldown: 1h}}}}
)",
                            sandbox.url()));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] { return daemon.log().find("top-up succeeded") != std::string::npos; }, 10s))
      << daemon.log();
  std::this_thread::sleep_for(1s);
  const auto keys = ledger_keys(sandbox.ledger());
  ASSERT_EQ(keys.size(), 1u) << sandbox.ledger();
  EXPECT_EQ(keys[0].rfind("generic:topupd-wallet-low-wallet-", 0), 0u) << keys[0];
  EXPECT_NE(sandbox.ledger().find(R"("amount_minor":200000000)"), std::string::npos) << sandbox.ledger();
  EXPECT_NE(daemon.log().find("top-up reflected in the balance"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace topupd::testing
