#include "topupd/core/cron.hpp"

#include <array>
#include <vector>

#include <fmt/format.h>

namespace topupd::core {
namespace {

struct FieldSpec {
  const char* name;
  int low;
  int high;
  const char* const* names;  // for months and weekdays; index = value - low
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

std::optional<int> parse_value(std::string_view text, const FieldSpec& spec) {
  if (text.empty()) return std::nullopt;
  if (spec.names) {
    std::string lower(text);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    for (int i = 0; spec.names[i]; ++i) {
      if (lower == spec.names[i]) return spec.low + i;
    }
  }
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > 1000) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Sets the bits of one field; returns an error message or "".
std::string parse_field(std::string_view text, const FieldSpec& spec, std::vector<bool>& bits, bool& restricted) {
  restricted = text != "*";
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) return fmt::format("{}: empty list item in '{}'", spec.name, text);
    std::string_view range = item;
    int step = 1;
    if (const auto slash = item.find('/'); slash != std::string_view::npos) {
      auto parsed = parse_value(item.substr(slash + 1), FieldSpec{spec.name, 1, 1000, nullptr});
      if (!parsed || *parsed == 0) return fmt::format("{}: bad step in '{}'", spec.name, item);
      step = *parsed;
      range = item.substr(0, slash);
    }
    int low = spec.low;
    int high = spec.high;
    if (range != "*") {
      const auto dash = range.find('-');
      auto first = parse_value(range.substr(0, dash), spec);
      auto last = dash == std::string_view::npos ? first : parse_value(range.substr(dash + 1), spec);
      if (!first || !last) return fmt::format("{}: '{}' is not a value or range", spec.name, item);
      low = *first;
      high = dash == std::string_view::npos && step != 1 ? spec.high : *last;
      if (low < spec.low || high > spec.high || low > high) {
        return fmt::format("{}: '{}' is outside {}-{}", spec.name, item, spec.low, spec.high);
      }
    }
    for (int v = low; v <= high; v += step) bits[static_cast<std::size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return "";
}

}  // namespace

CronParse parse_cron(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() != 5) {
    return {std::nullopt, fmt::format("'{}' has {} fields; a schedule has five: minute hour day-of-month "
                                      "month day-of-week, e.g. \"0 9 * * *\"",
                                      text, fields.size())};
  }
  const FieldSpec specs[5] = {{"minute", 0, 59, nullptr},
                              {"hour", 0, 23, nullptr},
                              {"day-of-month", 1, 31, nullptr},
                              {"month", 1, 12, kMonthNames},
                              {"day-of-week", 0, 7, kDayNames}};
  CronSchedule schedule;
  schedule.text = std::string(text);
  for (int f = 0; f < 5; ++f) {
    std::vector<bool> bits(static_cast<std::size_t>(specs[f].high + 1), false);
    bool restricted = false;
    std::string error = parse_field(fields[static_cast<std::size_t>(f)], specs[f], bits, restricted);
    if (!error.empty()) return {std::nullopt, error};
    for (std::size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (f) {
        case 0: schedule.minutes.set(v); break;
        case 1: schedule.hours.set(v); break;
        case 2: schedule.days_of_month.set(v); break;
        case 3: schedule.months.set(v); break;
        case 4: schedule.weekdays.set(v % 7); break;
      }
    }
    if (f == 2) schedule.days_of_month_restricted = restricted;
    if (f == 4) schedule.weekdays_restricted = restricted;
  }
  return {schedule, {}};
}

std::optional<Timestamp> next_due(const CronSchedule& s, const TimeZone& zone, Timestamp after) {
  using namespace std::chrono;
  // Walk local days from the day before `after` (a DST shift can move the local date),
  // and within each matching day its matching minutes, until an instant is past `after`.
  const sys_days first = zone.local_day(after) - days(1);
  for (int d = 0; d <= 366 * 5; ++d) {
    const sys_days day = first + days(d);
    const year_month_day ymd{day};
    if (!s.months.test(static_cast<unsigned>(ymd.month()))) continue;
    const bool dom = s.days_of_month.test(static_cast<unsigned>(ymd.day()));
    const bool dow = s.weekdays.test(weekday(day).c_encoding());
    const bool day_matches = s.days_of_month_restricted && s.weekdays_restricted ? (dom || dow)
                             : s.days_of_month_restricted                      ? dom
                             : s.weekdays_restricted                           ? dow
                                                                               : true;
    if (!day_matches) continue;
    for (int h = 0; h < 24; ++h) {
      if (!s.hours.test(static_cast<std::size_t>(h))) continue;
      for (int m = 0; m < 60; ++m) {
        if (!s.minutes.test(static_cast<std::size_t>(m))) continue;
        const Timestamp at = zone.from_local({day, h, m});
        // Local minutes in order map to non-decreasing instants (a gap maps its minutes
        // onto the hour after it, an overlap uses its first occurrence), so the first
        // instant past `after` is the earliest.
        if (at > after) return at;
      }
    }
  }
  return std::nullopt;
}

}  // namespace topupd::core
