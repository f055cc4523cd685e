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

std::optional<Timestamp> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)
  auto digits = [&](std::size_t at, std::size_t count) -> std::optional<int> {
    if (at + count > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2), mi = digits(14, 2), s = digits(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*y), std::chrono::month(static_cast<unsigned>(*mo)),
                                         std::chrono::day(static_cast<unsigned>(*d))};
  if (!date.ok()) return std::nullopt;
  std::size_t at = 19;
  int millis = 0;
  if (at < text.size() && text[at] == '.') {
    std::size_t n = ++at;
    int scale = 100;
    while (n < text.size() && text[n] >= '0' && text[n] <= '9') {
      millis += (text[n] - '0') * scale;
      scale /= 10;
      ++n;
    }
    if (n == at) return std::nullopt;
    at = n;
  }
  int offset_minutes = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    const auto oh = digits(at + 1, 2);
    const auto om = digits(at + 4, 2);
    if (!oh || !om || at + 3 >= text.size() || text[at + 3] != ':' || *oh > 23 || *om > 59) return std::nullopt;
    offset_minutes = (text[at] == '-' ? -1 : 1) * (*oh * 60 + *om);
    at += 6;
  } else {
    return std::nullopt;  // an offset is required: local times are ambiguous
  }
  if (at != text.size()) return std::nullopt;
  const auto local = std::chrono::sys_days(date) + std::chrono::hours(*h) + std::chrono::minutes(*mi) +
                     std::chrono::seconds(*s) + std::chrono::milliseconds(millis);
  return Timestamp(std::chrono::duration_cast<std::chrono::milliseconds>(local.time_since_epoch()) -
                   std::chrono::minutes(offset_minutes));
}

std::optional<Duration> wall_clock_step(Timestamp wall_before, MonotonicTime steady_before, Timestamp wall_now,
                                        MonotonicTime steady_now, Duration tolerance) {
  const Duration wall = wall_now - wall_before;
  const auto steady = std::chrono::duration_cast<Duration>(steady_now - steady_before);
  const Duration step = wall - steady;
  if (step > tolerance || step < -tolerance) return step;
  return std::nullopt;
}

}  // namespace topupd::core
