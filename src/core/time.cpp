#include "topupd/core/time.hpp"

#include <cstdint>

#include <fmt/format.h>

namespace topupd::core {

DurationParse parse_duration(std::string_view text) {
  if (text.empty()) return {std::nullopt, "empty duration; write e.g. 30s, 15m, 2h, 1d"};
  std::int64_t total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::int64_t number = 0;
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      if (__builtin_mul_overflow(number, 10, &number) ||
          __builtin_add_overflow(number, rest[digits] - '0', &number)) {
        return {std::nullopt, fmt::format("duration '{}' is too large", text)};
      }
      ++digits;
    }
    if (digits == 0) {
      return {std::nullopt,
              fmt::format("'{}' is not a duration; write e.g. 30s, 15m, 2h, 1d", text)};
    }
    rest.remove_prefix(digits);
    std::size_t unit_len = 0;
    while (unit_len < rest.size() && rest[unit_len] >= 'a' && rest[unit_len] <= 'z') ++unit_len;
    const std::string_view unit = rest.substr(0, unit_len);
    std::int64_t factor = 0;
    if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60'000;
    else if (unit == "h") factor = 3'600'000;
    else if (unit == "d") factor = 86'400'000;
    else if (unit.empty()) {
      return {std::nullopt, fmt::format("duration '{}' needs a unit (ms, s, m, h, d)", text)};
    } else {
      return {std::nullopt,
              fmt::format("duration '{}' has unknown unit '{}' (ms, s, m, h, d)", text, unit)};
    }
    rest.remove_prefix(unit_len);
    std::int64_t part = 0;
    if (__builtin_mul_overflow(number, factor, &part) ||
        __builtin_add_overflow(total_ms, part, &total_ms)) {
      return {std::nullopt, fmt::format("duration '{}' is too large", text)};
    }
  }
  return {Duration(total_ms), {}};
}

std::string format_duration(Duration duration) {
  std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, name] : kUnits) {
    if (ms >= size) {
      out += fmt::format("{}{}", ms / size, name);
      ms %= size;
    }
  }
  return out;
}

std::string format_rfc3339(Timestamp at) {
  const auto days = std::chrono::floor<std::chrono::days>(at);
  const std::chrono::year_month_day ymd{days};
  const auto in_day = at - days;
  const auto h = std::chrono::duration_cast<std::chrono::hours>(in_day);
  const auto m = std::chrono::duration_cast<std::chrono::minutes>(in_day - h);
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(in_day - h - m);
  const auto ms = in_day - h - m - s;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     h.count(), m.count(), s.count(), ms.count());
}

}  // namespace topupd::core
