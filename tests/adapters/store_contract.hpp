// The Store contract's fixture, shared by the files whose tests every engine must pass
// (store_test.cpp, api_store_test.cpp): each is built into the unit tests for SQLite and
// into topupd_pg_tests for PostgreSQL, where store_test.cpp instantiates the suite.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters::store_contract {

namespace fs = std::filesystem;
using core::TopUpRecord;
using core::TopUpState;

inline core::Timestamp at(std::int64_t seconds) { return core::Timestamp(std::chrono::seconds(1'795'000'000 + seconds)); }
inline core::Money idr(std::int64_t major) { return core::Money(major * 100, *core::Currency::find("IDR")); }

inline TopUpRecord record(const std::string& key, core::Timestamp created, TopUpState state = TopUpState::planned) {
  return TopUpRecord{key, "payout-low", "payout", "bank", core::TopUpMethod::direct_debit, "acct-1", "1234567890",
                     idr(41'000'000), state, "", "", created, std::nullopt};
}

inline core::RuleState firing_state() {
  core::RuleState state;
  state.phase = core::RulePhase::firing;
  state.condition_since = at(-60);
  state.fired_at = at(0);
  state.last_alert_at = at(0);
  state.last_top_up_at = at(0);
  state.top_ups_in_episode = 1;
  return state;
}

// A way to make a store in a scratch directory.
struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<Store>(const fs::path& dir)> open;
};

inline void PrintTo(const StoreFactory& factory, std::ostream* out) { *out << factory.name; }

class StoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fs::path("topupd-store-" + std::to_string(::getpid()) + "-" +
                                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = GetParam().open(dir_);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace topupd::adapters::store_contract
