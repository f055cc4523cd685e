// Where each account's and each rule's top-ups are in the executor's journal, and which
// record a key or a gateway's reference names.
//
// The journal holds every open top-up and every finished one a rule may still look at:
// with 10,000 accounts, tens of thousands of records. A poll looks at its own account's
// few (its open top-ups, its rule's caps and rails, its credits for runway), so the
// executor keeps, per account and per rule, the sequence numbers of their records in
// journal order and hands out core::JournalView's of them. A webhook names one top-up,
// by key or by the gateway's reference: found here, not by reading every record.
//
// It owns only the numbers; the executor adds a record's number when it appends the
// record, tells it when a record's reference changes, and drops the first ones when it
// forgets records from the front.
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
  // Record `seq`'s reference may have changed (set by the gateway's answer, or the
  // record replaced by another instance's).
  void referenced(const core::TopUpRecord& record, std::size_t seq);

  // The numbers of the account's (the rule's) records, ascending.
  std::span<const std::size_t> of_account(const std::string& account) const { return find(by_account_, account); }
  std::span<const std::size_t> of_rule(const std::string& rule) const { return find(by_rule_, rule); }
  // The account's first record numbered after `after` (from the start without one).
  std::optional<std::size_t> next_of_account(const std::string& account, std::optional<std::size_t> after) const;
  // The record with this key.
  std::optional<std::size_t> of_key(const std::string& key) const;
  // The records with this gateway reference (of any provider), ascending.
  std::span<const std::size_t> of_reference(const std::string& reference) const {
    return find(by_reference_, reference);
  }

 private:
  using Numbers = std::unordered_map<std::string, std::vector<std::size_t>>;
  static std::span<const std::size_t> find(const Numbers& numbers, const std::string& name);
  static void drop(Numbers& numbers, const std::string& name, std::size_t seq);

  Numbers by_account_;
  Numbers by_rule_;
  Numbers by_reference_;
  std::unordered_map<std::string, std::size_t> by_key_;
  std::unordered_map<std::size_t, std::string> reference_of_;  // what by_reference_ holds each number under
};

}  // namespace topupd::app
