// Time in topupd: wall-clock timestamps, durations and their text form.
//
// `Timestamp` is wall-clock time (for calendars, logs and journal rows) at millisecond
// resolution; `MonotonicTime` is for measuring intervals, at the steady clock's own
// resolution (a loopback answer takes well under a millisecond). Neither is ever read inside
// `core`: callers pass `now` in, taken from a `Clock` (see clock.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace topupd::core {

using Duration = std::chrono::milliseconds;
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
using MonotonicTime = std::chrono::steady_clock::time_point;

struct DurationParse {
  std::optional<Duration> value;
  std::string error;
};

// Parses "500ms", "30s", "15m", "2h", "1d" and sequences of them ("1h30m").
// Units must be given; negative values, unknown units and overflow are errors.
DurationParse parse_duration(std::string_view text);

// "1h30m", "45s", "250ms", "0s": the shortest exact form, parseable by parse_duration.
std::string format_duration(Duration duration);

// RFC 3339 in UTC with milliseconds: "2026-11-25T05:38:38.123Z".
std::string format_rfc3339(Timestamp at);

// Parses RFC 3339 with a required offset: "2026-11-25T09:00:00+07:00", "…T02:00:00Z",
// with optional fractional seconds (kept to the millisecond). Nullopt when malformed.
std::optional<Timestamp> parse_rfc3339(std::string_view text);

// How far the wall clock stepped between two readings of both clocks: its advance
// minus the monotonic clock's (positive: forwards). Nullopt while the two agree within
// `tolerance` (a slewing NTP, a late reading).
std::optional<Duration> wall_clock_step(Timestamp wall_before, MonotonicTime steady_before, Timestamp wall_now,
                                        MonotonicTime steady_now, Duration tolerance);

}  // namespace topupd::core
