// What the payouts a backend announced (demands) ask of an account — the cover_demands
// condition (rules.hpp): the demands due within the window, the account's other
// outflow until the last of them at the burn rate it has shown, and so the balance
// that covers them and still keeps the floor. Pure: the caller gives the time.
#pragma once

#include <cstddef>
#include <optional>

#include "topupd/core/rules.hpp"

namespace topupd::core {

struct DemandCover {
  std::size_t count = 0;  // demands due within the window
  Money due;              // their sum
  Money burn;             // the expected other outflow until the last of them
  Money target;           // keep + due + burn: the balance that covers them
  std::optional<Timestamp> first_due{};
  std::optional<Timestamp> last_due{};
  bool overflow = false;  // the sums do not fit in int64: nothing is decided from them
};

// `condition` is a cover_demands condition, `estimate` the burn over its window, and
// `balance` the latest one (its currency is the account's; demands in another are
// not counted).
DemandCover cover_needed(const Condition& condition, std::span<const DueDemand> demands, const Money& balance,
                         const RunwayEstimate& estimate, Timestamp now);

}  // namespace topupd::core
