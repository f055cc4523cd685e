// Runway: how long a balance lasts at its observed burn rate.
//
// The burn rate is the least-squares slope of the balance over a trailing window,
// after removing credits that topupd itself made (a top-up would otherwise look like
// the balance was growing). runway = balance ÷ burn rate. A balance that is not
// falling has no runway limit (nullopt). All arithmetic is exact integer arithmetic.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/time.hpp"

namespace topupd::core {

// RunwayEstimate is declared in rules.hpp, beside the evaluation that carries it.

// `history` oldest first; only observations within [now - window, now] are used.
RunwayEstimate estimate_runway(std::span<const Observation> history, std::span<const Credit> own_credits,
                               Timestamp now, Duration window);

}  // namespace topupd::core
