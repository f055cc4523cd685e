// Stuck top-ups: which sent top-ups have waited too long for their outcome.
//
// A top-up whose request left and whose outcome is not final (submitted, pending,
// unknown) is open. `StuckWatch::step` is shown the journal now and then; a record open
// longer than its rule's `stuck_after` starts being stuck — once — and one that was
// stuck and is no longer open has ended. The caller turns both into alerts. Pure: the
// time comes in, changes come out.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "topupd/core/topup.hpp"

namespace topupd::core {

// submitted, pending or unknown: the request left, the outcome is not final.
bool awaits_outcome(TopUpState state);

struct StuckChange {
  enum class Kind { started, ended };
  Kind kind = Kind::started;
  TopUpRecord record;   // as the journal holds it at this step
  Duration age{0};      // how long it has been open (started) or was open (ended)
  Timestamp since{};    // when it was first seen open
  Timestamp stuck_at{};  // when it started being stuck: the alert's identity
};

class StuckWatch {
 public:
  using StuckAfter = std::function<Duration(const TopUpRecord&)>;

  // After a restart: records already open count from their creation, not from now.
  void seed(std::span<const TopUpRecord> journal);
  std::vector<StuckChange> step(std::span<const TopUpRecord> journal, const StuckAfter& stuck_after, Timestamp now);

 private:
  struct Open {
    Timestamp since;
    std::optional<Timestamp> stuck_at;
  };
  std::map<std::string, Open> open_;  // by top-up key
};

}  // namespace topupd::core
