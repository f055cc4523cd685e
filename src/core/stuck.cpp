#include "topupd/core/stuck.hpp"

#include <set>

namespace topupd::core {

bool awaits_outcome(TopUpState state) {
  return state == TopUpState::submitted || state == TopUpState::pending || state == TopUpState::unknown;
}

namespace {

// A request that left and has no final outcome yet. A ticket a person is to pay is not
// one: nothing was sent, people were told, and its expiry ends it.
bool watched(const TopUpRecord& record) { return awaits_outcome(record.state) && !paid_by_person(record); }

}  // namespace

void StuckWatch::seed(std::span<const TopUpRecord> journal) {
  for (const auto& record : journal) {
    if (watched(record)) open_.try_emplace(record.key, Open{record.created_at, std::nullopt});
  }
}

std::vector<StuckChange> StuckWatch::step(std::span<const TopUpRecord> journal, const StuckAfter& stuck_after,
                                          Timestamp now) {
  std::vector<StuckChange> changes;
  std::set<std::string> seen;
  for (const auto& record : journal) {
    const auto entry = open_.find(record.key);
    if (!watched(record)) {
      if (entry == open_.end()) continue;
      if (entry->second.stuck_at) {
        changes.push_back({StuckChange::Kind::ended, record, now - entry->second.since, entry->second.since,
                           *entry->second.stuck_at});
      }
      open_.erase(entry);
      continue;
    }
    seen.insert(record.key);
    Open& open = entry != open_.end() ? entry->second : open_.emplace(record.key, Open{now, std::nullopt}).first->second;
    if (!open.stuck_at && now - open.since >= stuck_after(record)) {
      open.stuck_at = now;
      changes.push_back({StuckChange::Kind::started, record, now - open.since, open.since, now});
    }
  }
  // An open record no longer in the journal (a reload of it): forget it quietly.
  std::erase_if(open_, [&](const auto& entry) { return !seen.count(entry.first); });
  return changes;
}

}  // namespace topupd::core
