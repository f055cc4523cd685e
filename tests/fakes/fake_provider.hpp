// A Provider whose answers a test scripts, with a ledger of what it executed.
//
// By default it behaves like an honest gateway: a submit executes once per key (a
// repeat returns the first receipt) and a look-up finds what it executed. A test
// can queue faults for the next calls: an error instead of the answer, optionally
// after the top-up was executed (an answer lost on the way back).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "topupd/adapters/providers/provider.hpp"

namespace topupd::testing {

class FakeProvider final : public adapters::Provider {
 public:
  struct Fault {
    adapters::ProviderError error;
    bool executed_first = false;  // submit: the gateway executed it, then the answer was lost
  };

  std::map<std::string, adapters::TopUpReceipt> ledger;  // key → what the gateway executed
  std::map<std::string, int> submits;                    // key → requests that reached it
  std::deque<Fault> submit_faults;
  std::deque<adapters::ProviderError> look_up_faults;
  adapters::ProviderTopUpStatus outcome = adapters::ProviderTopUpStatus::succeeded;  // of new top-ups
  std::function<void(const adapters::TopUpRequest&)> on_submit;  // sees each request as it arrives
  core::Money balance_value = core::Money(0, *core::Currency::find("IDR"));
  std::deque<adapters::ProviderError> balance_faults;  // the next balance reads fail with these
  int balance_reads = 0;

  boost::asio::awaitable<adapters::ProviderResult<core::Money>> balance(const adapters::BalanceQuery&) override {
    balance_reads += 1;
    if (!balance_faults.empty()) {
      adapters::ProviderError error = balance_faults.front();
      balance_faults.pop_front();
      co_return error;
    }
    co_return balance_value;
  }

  boost::asio::awaitable<adapters::ProviderResult<adapters::TopUpReceipt>> submit(
      const adapters::TopUpRequest& request) override {
    submits[request.idempotency_key] += 1;
    if (on_submit) on_submit(request);
    std::optional<Fault> fault;
    if (!submit_faults.empty()) {
      fault = submit_faults.front();
      submit_faults.pop_front();
    }
    if (fault && !fault->executed_first) co_return fault->error;
    auto [entry, fresh] = ledger.try_emplace(request.idempotency_key,
                                             adapters::TopUpReceipt{"ref-" + request.idempotency_key, outcome, ""});
    (void)fresh;  // a repeated key returns the first outcome
    if (fault) co_return fault->error;
    co_return entry->second;
  }

  boost::asio::awaitable<adapters::ProviderResult<std::optional<adapters::TopUpReceipt>>> look_up(
      const adapters::TopUpRequest& request, const std::string&) override {
    if (!look_up_faults.empty()) {
      adapters::ProviderError error = look_up_faults.front();
      look_up_faults.pop_front();
      co_return error;
    }
    const auto it = ledger.find(request.idempotency_key);
    if (it == ledger.end()) co_return std::optional<adapters::TopUpReceipt>();
    co_return std::optional<adapters::TopUpReceipt>(it->second);
  }
};

}  // namespace topupd::testing
