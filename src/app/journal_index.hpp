// Where each account's and each rule's top-ups are in the executor's journal.
//
// The journal holds every open top-up and every finished one a rule may still look at:
// with 10,000 accounts, tens of thousands of records. A poll looks at its own account's
// few (its open top-ups, its rule's caps and rails, its credits for runway), so the
// executor keeps, per account and per rule, the sequence numbers of their records in
// journal order and hands out core::JournalView's of them.
//
// It owns only the numbers; the executor adds a record's number when it appends the
// record, and drops the first ones when it forgets records from the front.
//
// Private to src/app.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "topupd/core/topup.hpp"

namespace topupd::app {

class JournalIndex {
 public:
  // Forgets everything and indexes `records`, numbered from `first`.
  void rebuild(std::span<const core::TopUpRecord> records, std::size_t first);
  // `record` was appended as number `seq` (larger than every number indexed).
  void add(const core::TopUpRecord& record, std::size_t seq);
  // `records`, numbered from `first`, left the journal's front.
  void forget(std::span<const core::TopUpRecord> records, std::size_t first);

  // The numbers of the account's (the rule's) records, ascending.
  std::span<const std::size_t> of_account(const std::string& account) const { return find(by_account_, account); }
  std::span<const std::size_t> of_rule(const std::string& rule) const { return find(by_rule_, rule); }
  // The account's first record numbered after `after` (from the start without one).
  std::optional<std::size_t> next_of_account(const std::string& account, std::optional<std::size_t> after) const;

 private:
  using Numbers = std::unordered_map<std::string, std::vector<std::size_t>>;
  static std::span<const std::size_t> find(const Numbers& numbers, const std::string& name);
  static void drop(Numbers& numbers, const std::string& name, std::size_t seq);

  Numbers by_account_;
  Numbers by_rule_;
};

}  // namespace topupd::app
