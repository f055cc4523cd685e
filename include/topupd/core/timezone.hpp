// Time zones for calendars: daily limits and cron schedules in the config's zone.
//
// A `TimeZone` is a value built from the system tz database's TZif data (parsed here,
// purely; reading the file is the caller's business). It answers the UTC offset at an
// instant and converts local wall-clock times to instants, resolving the two DST
// cases explicitly:
//  * a local time that does not exist (clocks jump forward over it) maps to the instant
//    the same distance after the jump: 02:30 in a 02:00→03:00 gap becomes 03:30 local;
//  * a local time that happens twice (clocks fall back) maps to its first occurrence.
// Past the last transition in the data, the POSIX rule in the TZif footer continues
// the pattern (M-month.week.day rules; zones without DST keep their last offset).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topupd/core/time.hpp"

namespace topupd::core {

// A local calendar time, to the minute.
struct LocalMinute {
  std::chrono::sys_days day;  // the local date, as a count of days
  int hour = 0;
  int minute = 0;
};

class TimeZone {
 public:
  struct Transition {
    std::int64_t at;      // Unix seconds
    std::int32_t offset;  // seconds east of UTC from `at` on
  };
  // A recurring rule from the POSIX footer, "M3.5.0/2": month, week (5 = last), weekday, seconds.
  struct PosixDate {
    int month = 0;
    int week = 0;
    int weekday = 0;
    std::int32_t time = 7200;
  };
  struct PosixRule {
    std::int32_t standard_offset = 0;
    std::optional<std::int32_t> dst_offset;  // nullopt: no DST
    PosixDate dst_start;
    PosixDate dst_end;
  };

  static TimeZone utc();
  // Parses TZif (v1, v2 or v3) data. Nullopt with `error` set when it is not valid.
  static std::optional<TimeZone> from_tzif(std::string name, std::string_view data, std::string* error = nullptr);
  // A fixed offset, for tests and for zones such as "Etc/GMT-7".
  static TimeZone fixed(std::string name, std::int32_t offset_seconds);

  const std::string& name() const { return name_; }
  std::chrono::seconds offset_at(Timestamp at) const;
  // The local calendar day that `at` falls on.
  std::chrono::sys_days local_day(Timestamp at) const;
  LocalMinute local_minute(Timestamp at) const;
  // The instant a local time denotes (see the gap and overlap rules above).
  Timestamp from_local(const LocalMinute& local) const;

 private:
  std::int32_t offset_at_seconds(std::int64_t unix_seconds) const;
  std::int32_t rule_offset(std::int64_t unix_seconds) const;

  std::string name_;
  std::int32_t initial_offset_ = 0;
  std::vector<Transition> transitions_;
  std::optional<PosixRule> rule_;
};

// RFC 3339 in the zone's local time with its offset: "2026-11-25T09:00:00+07:00".
std::string format_local(Timestamp at, const TimeZone& zone);

// Parses a POSIX TZ rule such as "CET-1CEST,M3.5.0,M10.5.0/3" or "<+07>-7".
std::optional<TimeZone::PosixRule> parse_posix_rule(std::string_view text);

}  // namespace topupd::core
