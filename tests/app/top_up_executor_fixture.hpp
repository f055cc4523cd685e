// The fixture of the top-up executor's tests: the executor driven without processes or
// sockets, with a scripted provider, the real SQLite store in memory and a fake clock.
// The provider's ledger is the witness.
#pragma once

#include <algorithm>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_provider.hpp"
#include "fakes/loop.hpp"
#include "top_up_executor.hpp"

namespace topupd::app::testing_executor {

using adapters::FailureKind;
using core::TopUpState;
using namespace std::chrono_literals;

inline core::Money idr(std::int64_t major) { return core::Money(major * 100, *core::Currency::find("IDR")); }

// A rule that tops `payout` up by IDR 1,000 through `bank` and alerts `ops`.
inline core::Rule top_up_rule() {
  return core::Rule{
      .name = "low", .account = "payout", .enabled = true,
      .when = {core::Condition::Kind::below, idr(100), core::Duration(0), core::Duration(0), std::nullopt},
      .hold_for = core::Duration(0), .clear = std::nullopt,
      .alert = core::AlertSpec{"warning", {"ops"}, core::Duration(0), true},
      .top_up = core::TopUpSpec{core::TopUpMethod::direct_debit, "bank", "123",
                                core::AmountSpec{core::AmountSpec::Kind::fixed, idr(1'000), 0, std::nullopt,
                                                 std::nullopt, std::nullopt},
                                std::nullopt, core::Limits{}, core::Verification{}}};
}

class TopUpExecutorTest : public ::testing::Test {
 protected:
  TopUpExecutorTest() {
    watch_.name = "payout";
    executor_ = make_executor();
  }

  // With its own metrics, it stands for another instance on the same store.
  std::unique_ptr<TopUpExecutor> make_executor(adapters::Metrics* metrics = nullptr) {
    auto executor = std::make_unique<TopUpExecutor>(
        io_, clock_, metrics ? *metrics : metrics_, *store_, durability_,
        ExecutorNeighbours{
            [this](const std::string& name) { return name == "payout" ? &watch_ : nullptr; },
            [this](const std::string& name) { return name == rule_.name ? &rule_ : nullptr; },
            [this](const adapters::Notification& n, const std::vector<std::string>&) { alerts_.push_back(n); },
            [] {},
            [this](const std::string& rule, const std::optional<std::string>& failure, const std::string&) {
              outcomes_.push_back(rule + " " + failure.value_or("succeeded"));
            }});
    executor->configure({{"bank", provider_}}, false);
    return executor;
  }

  core::Decision decision(std::uint32_t sequence = 0, bool needs_approval = false) {
    core::Decision d{core::DecisionKind::top_up, "low", "payout", "balance low", idr(50), idr(100), std::nullopt,
                     idr(1'000), core::idempotency_key("low", "payout", clock_.now(), sequence), rule_.top_up,
                     {}, needs_approval};
    return d;
  }

  // Runs a coroutine of the executor to its end on the test's io_context.
  template <class T>
  T run(asio::awaitable<T> work) {
    std::optional<T> out;
    asio::co_spawn(io_, std::move(work), [&](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      out = std::move(value);
    });
    io_.restart();
    io_.run();
    return *out;
  }
  void run(asio::awaitable<void> work) { ASSERT_TRUE(testing::run_to_end(io_, std::move(work))); }

  std::string execute(const core::Decision& d) {
    return run(executor_->execute(d, TopUpRoute{"bank", "payout-id", "123"}, core::RuleState{}));
  }
  TopUpState state_of(const std::string& key) {
    for (const auto& record : executor_->journal()) {
      if (record.key == key) return record.state;
    }
    ADD_FAILURE() << "no record " << key;
    return TopUpState::failed;
  }
  // What topupd_topups_in_state says beside the executor's records counted by state.
  void expect_state_gauges_count_the_journal(const std::string& when) {
    const std::string text = metrics_.serialize();
    for (auto state : core::kAllTopUpStates) {
      const auto counted = std::count_if(executor_->journal().begin(), executor_->journal().end(),
                                         [&](const core::TopUpRecord& r) { return r.state == state; });
      const std::string series = "topupd_topups_in_state{state=\"" + std::string(core::to_string(state)) + "\"} " +
                                 std::to_string(counted) + "\n";
      EXPECT_NE(text.find(series), std::string::npos) << when << ": expected " << series << text;
    }
  }
  std::vector<std::string> journalled_states(const std::string& key) {
    std::vector<std::string> out;
    for (const auto& t : store_->transitions(key)) out.push_back(std::string(core::to_string(t.to)));
    return out;
  }

  asio::io_context io_;
  testing::FakeClock clock_;
  adapters::Metrics metrics_{"test", "test"};
  std::unique_ptr<adapters::Store> store_ = adapters::open_sqlite_store(":memory:");
  adapters::Durability durability_{io_.get_executor(), ":memory:"};
  std::shared_ptr<testing::FakeProvider> provider_ = std::make_shared<testing::FakeProvider>();
  core::Rule rule_ = top_up_rule();
  core::AccountWatch watch_;
  std::vector<adapters::Notification> alerts_;
  std::vector<std::string> outcomes_;  // "RULE succeeded" or "RULE CODE", as the executor reported them
  std::unique_ptr<TopUpExecutor> executor_;
};

}  // namespace topupd::app::testing_executor
