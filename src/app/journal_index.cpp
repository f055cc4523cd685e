// The journal's index by account and by rule (journal_index.hpp).
#include "journal_index.hpp"

#include <algorithm>

namespace topupd::app {

void JournalIndex::rebuild(std::span<const core::TopUpRecord> records, std::size_t first) {
  by_account_.clear();
  by_rule_.clear();
  for (std::size_t i = 0; i < records.size(); ++i) add(records[i], first + i);
}

void JournalIndex::add(const core::TopUpRecord& record, std::size_t seq) {
  by_account_[record.account].push_back(seq);
  by_rule_[record.rule].push_back(seq);
}

void JournalIndex::forget(std::span<const core::TopUpRecord> records, std::size_t first) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    drop(by_account_, records[i].account, first + i);
    drop(by_rule_, records[i].rule, first + i);
  }
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
  // Records leave from the journal's front, so each is its account's and its rule's first.
  auto& list = it->second;
  const auto at = std::find(list.begin(), list.end(), seq);
  if (at != list.end()) list.erase(at);
  if (list.empty()) numbers.erase(it);
}

}  // namespace topupd::app
