// The journal's index by account, rule, key and reference (journal_index.hpp).
#include "journal_index.hpp"

#include <algorithm>

namespace topupd::app {

void JournalIndex::rebuild(std::span<const core::TopUpRecord> records, std::size_t first) {
  by_account_.clear();
  by_rule_.clear();
  by_reference_.clear();
  by_key_.clear();
  reference_of_.clear();
  for (std::size_t i = 0; i < records.size(); ++i) add(records[i], first + i);
}

void JournalIndex::add(const core::TopUpRecord& record, std::size_t seq) {
  by_account_[record.account].push_back(seq);
  by_rule_[record.rule].push_back(seq);
  by_key_[record.key] = seq;
  referenced(record, seq);
}

void JournalIndex::referenced(const core::TopUpRecord& record, std::size_t seq) {
  const auto indexed = reference_of_.find(seq);
  if (indexed != reference_of_.end()) {
    if (indexed->second == record.reference) return;
    drop(by_reference_, indexed->second, seq);
    reference_of_.erase(indexed);
  }
  if (record.reference.empty()) return;
  auto& numbers = by_reference_[record.reference];
  numbers.insert(std::upper_bound(numbers.begin(), numbers.end(), seq), seq);
  reference_of_.emplace(seq, record.reference);
}

void JournalIndex::forget(std::span<const core::TopUpRecord> records, std::size_t first) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    drop(by_account_, records[i].account, first + i);
    drop(by_rule_, records[i].rule, first + i);
    if (const auto key = by_key_.find(records[i].key); key != by_key_.end() && key->second == first + i) {
      by_key_.erase(key);
    }
    if (const auto reference = reference_of_.find(first + i); reference != reference_of_.end()) {
      drop(by_reference_, reference->second, first + i);
      reference_of_.erase(reference);
    }
  }
}

std::optional<std::size_t> JournalIndex::of_key(const std::string& key) const {
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::size_t> JournalIndex::next_of_account(const std::string& account,
                                                         std::optional<std::size_t> after) const {
  const auto numbers = of_account(account);
  const auto next = after ? std::upper_bound(numbers.begin(), numbers.end(), *after) : numbers.begin();
  if (next == numbers.end()) return std::nullopt;
  return *next;
}

std::span<const std::size_t> JournalIndex::find(const Numbers& numbers, const std::string& name) {
  const auto it = numbers.find(name);
  if (it == numbers.end()) return {};
  return it->second;
}

void JournalIndex::drop(Numbers& numbers, const std::string& name, std::size_t seq) {
  const auto it = numbers.find(name);
  if (it == numbers.end()) return;
  // Records leave from the journal's front, so each is usually its list's first.
  auto& list = it->second;
  const auto at = std::find(list.begin(), list.end(), seq);
  if (at != list.end()) list.erase(at);
  if (list.empty()) numbers.erase(it);
}

}  // namespace topupd::app
