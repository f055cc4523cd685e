#include <gtest/gtest.h>

#include <chrono>

#include "topupd/adapters/metrics/metrics.hpp"

namespace topupd::adapters {
namespace {

core::Money usd(std::int64_t minor) { return core::Money(minor, *core::Currency::find("USD")); }
core::Money idr(std::int64_t minor) { return core::Money(minor, *core::Currency::find("IDR")); }

bool has(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }

void touch_everything(Metrics& metrics, const std::string& account) {
  metrics.set_balance(account, usd(12345));
  metrics.set_last_successful_poll(account, core::Timestamp(std::chrono::seconds(1'700'000'000)));
  metrics.set_balance_stale(account, true);
  metrics.set_runway(account, std::chrono::hours(2));
  metrics.observe_poll_duration(account, std::chrono::microseconds(700));
}

TEST(Metrics, PerAccountSeriesAreUpdatedInPlace) {
  Metrics metrics("1.0", "abc");
  touch_everything(metrics, "ops");
  metrics.set_balance("ops", usd(500));
  metrics.set_balance_stale("ops", false);
  metrics.observe_poll_duration("ops", std::chrono::milliseconds(30));
  const std::string text = metrics.serialize();
  EXPECT_TRUE(has(text, "topupd_balance{account=\"ops\",currency=\"USD\"} 500\n")) << text;
  EXPECT_FALSE(has(text, "12345"));
  EXPECT_TRUE(has(text, "topupd_balance_stale{account=\"ops\"} 0\n"));
  EXPECT_TRUE(has(text, "topupd_last_successful_poll_timestamp_seconds{account=\"ops\"} 1700000000\n"));
  EXPECT_TRUE(has(text, "topupd_runway_seconds{account=\"ops\"} 7200\n"));
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_count{account=\"ops\"} 2\n"));
  // Sub-millisecond answers land in their own bucket.
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_bucket{account=\"ops\",le=\"0.001\"} 1\n"));
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_bucket{account=\"ops\",le=\"0.05\"} 2\n"));
}

TEST(Metrics, PollLatenessIsOneHistogramForAllAccounts) {
  Metrics metrics("1.0", "abc");
  metrics.observe_poll_lateness(std::chrono::microseconds(300));
  metrics.observe_poll_lateness(std::chrono::milliseconds(30));
  metrics.observe_poll_lateness(-std::chrono::microseconds(5));  // a timer that fired a hair early
  const std::string text = metrics.serialize();
  EXPECT_TRUE(has(text, "topupd_poll_lateness_seconds_bucket{le=\"0.001\"} 2\n")) << text;
  EXPECT_TRUE(has(text, "topupd_poll_lateness_seconds_bucket{le=\"0.05\"} 3\n"));
  EXPECT_TRUE(has(text, "topupd_poll_lateness_seconds_count 3\n"));
}

TEST(Metrics, ACurrencyChangeReplacesTheBalanceSeries) {
  Metrics metrics("1.0", "abc");
  metrics.set_balance("ops", usd(500));
  metrics.set_balance("ops", idr(900));
  const std::string text = metrics.serialize();
  EXPECT_FALSE(has(text, "currency=\"USD\"")) << text;
  EXPECT_TRUE(has(text, "topupd_balance{account=\"ops\",currency=\"IDR\"} 900\n"));
}

TEST(Metrics, RetainingAccountsDropsEverySeriesOfTheOthers) {
  Metrics metrics("1.0", "abc");
  touch_everything(metrics, "kept");
  touch_everything(metrics, "retired");
  metrics.retain_accounts({"kept"});
  const std::string text = metrics.serialize();
  EXPECT_FALSE(has(text, "account=\"retired\"")) << text;
  for (const char* family : {"topupd_balance{", "topupd_balance_stale{", "topupd_runway_seconds{",
                             "topupd_last_successful_poll_timestamp_seconds{", "topupd_poll_duration_seconds_count{"}) {
    EXPECT_TRUE(has(text, std::string(family) + "account=\"kept\"")) << family;
  }
  // A retired account that comes back starts new series.
  metrics.set_balance_stale("retired", true);
  EXPECT_TRUE(has(metrics.serialize(), "topupd_balance_stale{account=\"retired\"} 1\n"));
}

}  // namespace
}  // namespace topupd::adapters
