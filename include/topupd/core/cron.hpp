// Five-field cron schedules ("minute hour day-of-month month day-of-week"),
// evaluated in a TimeZone.
//
// Each field takes `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, and lists of
// those separated by ','. Months and weekdays also take names (`jan`, `mon`); weekday 0
// and 7 are Sunday. As in Vixie cron, when both day-of-month and day-of-week are
// restricted, a day matches if either does.
//
// Local times that fall into a DST gap run at the same distance after the jump;
// local times that happen twice run once, at the first occurrence (see timezone.hpp).
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "topupd/core/time.hpp"
#include "topupd/core/timezone.hpp"

namespace topupd::core {

struct CronSchedule {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days_of_month;  // 1..31
  std::bitset<13> months;         // 1..12
  std::bitset<7> weekdays;        // 0 (Sunday) .. 6
  bool days_of_month_restricted = false;
  bool weekdays_restricted = false;
  std::string text;
};

struct CronParse {
  std::optional<CronSchedule> value;
  std::string error;  // names the field and what is wrong
};

CronParse parse_cron(std::string_view text);

// The first due instant strictly after `after`; nullopt if there is none within five
// years (e.g. "0 0 30 2 *", February 30th).
std::optional<Timestamp> next_due(const CronSchedule& schedule, const TimeZone& zone, Timestamp after);

}  // namespace topupd::core
