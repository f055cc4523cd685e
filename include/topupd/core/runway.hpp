// Runway: how long a balance lasts at its observed burn rate.
//
// The burn rate is the least-squares slope of the balance over a trailing window,
// after removing credits that topupd itself made (a top-up would otherwise look like
// the balance was growing). runway = balance ÷ burn rate. A balance that is not
// falling has no runway limit (nullopt). All arithmetic is exact integer arithmetic.
//
// A `RunwayIndex` kept beside a history holds its running least-squares sums, so an
// estimate over any trailing window costs a few binary searches instead of a pass over
// every row of the window. With or without it the estimate is the same, exactly.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/time.hpp"

namespace topupd::core {

// RunwayEstimate is declared in rules.hpp, beside the evaluation that carries it.

struct RunwayIndex {
  __extension__ typedef __int128 Wide;
  struct Sums {
    Wide t = 0, b = 0, tt = 0, tb = 0;  // over rows 0..i: Σt, Σbalance, Σt², Σt·balance
  };
  Timestamp origin{};        // t is in milliseconds since this
  std::vector<Sums> prefix;  // one per history row, the running sums up to and including it
  std::int64_t max_abs_balance = 0;
  bool valid = true;         // false once a sum would overflow: estimates read the rows

  // After `history` gained one row at its end.
  void append(std::span<const Observation> history);
  // After rows were dropped from the front of `history`: the sums start again.
  void rebuild(std::span<const Observation> history);
};

// `history` oldest first; only observations within [now - window, now] are used.
// `index`, when given, must be the index of exactly this history.
RunwayEstimate estimate_runway(std::span<const Observation> history, std::span<const Credit> own_credits,
                               Timestamp now, Duration window, const RunwayIndex* index = nullptr);

}  // namespace topupd::core
