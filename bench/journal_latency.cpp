// Journal write latency: how long a durable journal write takes on this disk.
//
// Opens a SQLite store in a scratch directory (WAL, synchronous=FULL, as the daemon
// does) and times N top-ups through their life: the plan (record + rule state, one
// transaction) and three transitions (submitted, pending, succeeded). Prints the
// percentiles in microseconds. Usage: journal_latency [N] [DIRECTORY]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "topupd/adapters/store/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

long long percentile(std::vector<long long> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::stoi(argv[1]) : 2000;
  const std::filesystem::path dir =
      std::filesystem::path(argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string()) /
      ("topupd-journal-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<long long> plan;
  std::vector<long long> transition;
  {
    auto store = topupd::adapters::open_sqlite_store((dir / "topupd.db").string());
    const auto idr = *topupd::core::Currency::find("IDR");
    topupd::core::RuleState state;
    for (int i = 0; i < n; ++i) {
      const topupd::core::Timestamp now{std::chrono::milliseconds(1'795'000'000'000LL + i)};
      topupd::core::TopUpRecord record{"bench-" + std::to_string(i), "payout-low", "payout", "bank",
                                       topupd::core::TopUpMethod::direct_debit, "acct", "1234567890",
                                       topupd::core::Money(4'100'000'000, idr), topupd::core::TopUpState::planned, "",
                                       "", now, std::nullopt};
      state.top_ups_in_episode = static_cast<std::uint32_t>(i);
      auto start = Clock::now();
      store->plan_top_up(record, "payout-low", state);
      plan.push_back(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
      for (auto next : {topupd::core::TopUpState::submitted, topupd::core::TopUpState::pending,
                        topupd::core::TopUpState::succeeded}) {
        const auto from = record.state;
        record.state = next;
        start = Clock::now();
        store->record_transition(record, from, now, "");
        transition.push_back(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
      }
    }
  }
  std::filesystem::remove_all(dir);
  std::printf("top_ups=%d plan_p50_us=%lld plan_p99_us=%lld plan_max_us=%lld transition_p50_us=%lld "
              "transition_p99_us=%lld transition_max_us=%lld\n",
              n, percentile(plan, 0.5), percentile(plan, 0.99), percentile(plan, 1.0), percentile(transition, 0.5),
              percentile(transition, 0.99), percentile(transition, 1.0));
  return 0;
}
