#include "topupd/core/timezone.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace topupd::core {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

std::int64_t read_be(std::string_view data, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(data[at + static_cast<std::size_t>(i)]);
  if (bytes == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
  return static_cast<std::int64_t>(value);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// "[+-]hh[:mm[:ss]]" as seconds; POSIX offsets are west-positive, so the caller negates.
std::optional<std::int32_t> parse_posix_offset(std::string_view& text) {
  int sign = 1;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    sign = text.front() == '-' ? -1 : 1;
    text.remove_prefix(1);
  }
  std::int32_t parts[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    std::size_t n = 0;
    std::int32_t value = 0;
    while (n < text.size() && n < 3 && text[n] >= '0' && text[n] <= '9') value = value * 10 + (text[n++] - '0');
    if (n == 0) {
      if (i == 0) return std::nullopt;
      break;
    }
    parts[i] = value;
    text.remove_prefix(n);
    if (i < 2 && !text.empty() && text.front() == ':') text.remove_prefix(1);
    else break;
  }
  return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
}

bool skip_name(std::string_view& text) {
  if (!text.empty() && text.front() == '<') {
    const auto close = text.find('>');
    if (close == std::string_view::npos) return false;
    text.remove_prefix(close + 1);
    return true;
  }
  std::size_t n = 0;
  while (n < text.size() && ((text[n] >= 'A' && text[n] <= 'Z') || (text[n] >= 'a' && text[n] <= 'z'))) ++n;
  if (n < 3) return false;
  text.remove_prefix(n);
  return true;
}

std::optional<TimeZone::PosixDate> parse_posix_date(std::string_view& text) {
  if (text.empty() || text.front() != 'M') return std::nullopt;  // Julian forms are not used by tzdata
  text.remove_prefix(1);
  int numbers[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    std::size_t n = 0;
    // Month, week and weekday have at most two digits; more is not a rule.
    while (n < text.size() && n < 3 && text[n] >= '0' && text[n] <= '9') numbers[i] = numbers[i] * 10 + (text[n++] - '0');
    if (n == 0 || n == 3) return std::nullopt;
    text.remove_prefix(n);
    if (i < 2) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  TimeZone::PosixDate date{numbers[0], numbers[1], numbers[2], 7200};
  if (date.month < 1 || date.month > 12 || date.week < 1 || date.week > 5 || date.weekday > 6) return std::nullopt;
  if (!text.empty() && text.front() == '/') {
    text.remove_prefix(1);
    auto time = parse_posix_offset(text);
    if (!time) return std::nullopt;
    date.time = *time;
  }
  return date;
}

// Unix seconds of a POSIX rule date in `year`, at local time given by `offset`.
std::int64_t rule_instant(const TimeZone::PosixDate& date, int year, std::int32_t offset) {
  using namespace std::chrono;
  const year_month first{std::chrono::year(year), month(static_cast<unsigned>(date.month))};
  sys_days day;
  if (date.week == 5) {
    const sys_days last = year_month_day_last(first.year(), month_day_last(first.month()));
    const int back = (static_cast<int>(weekday(last).c_encoding()) - date.weekday + 7) % 7;
    day = last - days(back);
  } else {
    const sys_days start = sys_days(first / 1);
    const int ahead = (date.weekday - static_cast<int>(weekday(start).c_encoding()) + 7) % 7;
    day = start + days(ahead + 7 * (date.week - 1));
  }
  return day.time_since_epoch().count() * 86400 + date.time - offset;
}

}  // namespace

std::optional<TimeZone::PosixRule> parse_posix_rule(std::string_view text) {
  TimeZone::PosixRule rule;
  if (!skip_name(text)) return std::nullopt;
  auto standard = parse_posix_offset(text);
  if (!standard) return std::nullopt;
  rule.standard_offset = -*standard;
  if (text.empty()) return rule;
  if (!skip_name(text)) return std::nullopt;
  rule.dst_offset = rule.standard_offset + 3600;
  if (!text.empty() && text.front() != ',') {
    auto dst = parse_posix_offset(text);
    if (!dst) return std::nullopt;
    rule.dst_offset = -*dst;
  }
  if (text.empty() || text.front() != ',') return std::nullopt;
  text.remove_prefix(1);
  auto start = parse_posix_date(text);
  if (!start || text.empty() || text.front() != ',') return std::nullopt;
  text.remove_prefix(1);
  auto end = parse_posix_date(text);
  if (!end || !text.empty()) return std::nullopt;
  rule.dst_start = *start;
  rule.dst_end = *end;
  return rule;
}

TimeZone TimeZone::utc() { return fixed("UTC", 0); }

TimeZone TimeZone::fixed(std::string name, std::int32_t offset_seconds) {
  TimeZone zone;
  zone.name_ = std::move(name);
  zone.initial_offset_ = offset_seconds;
  return zone;
}

std::optional<TimeZone> TimeZone::from_tzif(std::string name, std::string_view data, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<TimeZone> {
    if (error) *error = why;
    return std::nullopt;
  };
  // Header: magic, version, 15 reserved bytes, six 32-bit counts.
  auto header = [&](std::size_t at, std::int64_t counts[6]) {
    if (data.size() < at + 44 || data.substr(at, 4) != "TZif") return false;
    for (int i = 0; i < 6; ++i) counts[i] = read_be(data, at + 20 + static_cast<std::size_t>(4 * i), 4);
    for (int i = 0; i < 6; ++i) {
      if (counts[i] < 0 || counts[i] > 100000) return false;
    }
    return true;
  };
  std::int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(0, c)) return fail("not TZif data");
  const char version = data[4];
  std::size_t at = 44;
  int time_size = 4;
  if (version >= '2') {
    // Skip the v1 block; the v2+ block has 64-bit times.
    at += static_cast<std::size_t>(c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    if (!header(at, c)) return fail("truncated TZif v2 header");
    at += 44;
    time_size = 8;
  }
  const std::size_t times_at = at;
  const std::size_t indices_at = times_at + static_cast<std::size_t>(c[3] * time_size);
  const std::size_t types_at = indices_at + static_cast<std::size_t>(c[3]);
  const std::size_t block_end = types_at + static_cast<std::size_t>(c[4] * 6 + c[5] + c[2] * (time_size + 4) + c[1] + c[0]);
  if (c[4] == 0 || data.size() < block_end) return fail("truncated TZif data");

  TimeZone zone;
  zone.name_ = std::move(name);
  auto type_offset = [&](std::int64_t index) -> std::optional<std::int32_t> {
    if (index < 0 || index >= c[4]) return std::nullopt;
    return static_cast<std::int32_t>(read_be(data, types_at + static_cast<std::size_t>(index * 6), 4));
  };
  zone.initial_offset_ = *type_offset(0);
  for (std::int64_t i = 0; i < c[3]; ++i) {
    const std::int64_t when = read_be(data, times_at + static_cast<std::size_t>(i * time_size), time_size);
    auto offset = type_offset(static_cast<unsigned char>(data[indices_at + static_cast<std::size_t>(i)]));
    if (!offset) return fail("TZif transition names an unknown type");
    if (!zone.transitions_.empty() && when <= zone.transitions_.back().at) return fail("TZif transitions out of order");
    zone.transitions_.push_back({when, *offset});
  }
  if (version >= '2' && data.size() > block_end + 1 && data[block_end] == '\n') {
    const auto end = data.find('\n', block_end + 1);
    if (end != std::string_view::npos && end > block_end + 1) {
      zone.rule_ = parse_posix_rule(data.substr(block_end + 1, end - block_end - 1));
    }
  }
  return zone;
}

std::int32_t TimeZone::rule_offset(std::int64_t t) const {
  const PosixRule& rule = *rule_;
  if (!rule.dst_offset) return rule.standard_offset;
  const auto day = floor_div(t + rule.standard_offset, 86400);
  const int year = static_cast<int>(std::chrono::year_month_day(sys_days(days(day))).year());
  // Start is given in standard local time, end in daylight local time.
  const std::int64_t start = rule_instant(rule.dst_start, year, rule.standard_offset);
  const std::int64_t end = rule_instant(rule.dst_end, year, *rule.dst_offset);
  const bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);  // southern zones wrap
  return dst ? *rule.dst_offset : rule.standard_offset;
}

std::int32_t TimeZone::offset_at_seconds(std::int64_t t) const {
  if (transitions_.empty() || t < transitions_.front().at) {
    if (transitions_.empty() && rule_) return rule_offset(t);
    return initial_offset_;
  }
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t,
                             [](std::int64_t value, const Transition& tr) { return value < tr.at; });
  const Transition& last = *(it - 1);
  if (it == transitions_.end() && rule_) return rule_offset(t);
  return last.offset;
}

std::chrono::seconds TimeZone::offset_at(Timestamp at) const {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(at).time_since_epoch().count();
  return std::chrono::seconds(offset_at_seconds(seconds));
}

std::chrono::sys_days TimeZone::local_day(Timestamp at) const {
  return std::chrono::floor<days>(at + offset_at(at));
}

LocalMinute TimeZone::local_minute(Timestamp at) const {
  const auto local = std::chrono::floor<std::chrono::minutes>(at + offset_at(at));
  const auto day = std::chrono::floor<days>(local);
  const auto minutes = (local - day).count();
  return {day, static_cast<int>(minutes / 60), static_cast<int>(minutes % 60)};
}

Timestamp TimeZone::from_local(const LocalMinute& local) const {
  const std::int64_t wall = local.day.time_since_epoch().count() * 86400 + local.hour * 3600 + local.minute * 60;
  // Offsets in effect a day either side cover every real zone's transitions.
  const std::int32_t before = offset_at_seconds(wall - 86400);
  const std::int32_t after = offset_at_seconds(wall + 86400);
  std::optional<std::int64_t> best;
  for (std::int32_t offset : {before, after}) {
    const std::int64_t candidate = wall - offset;
    if (offset_at_seconds(candidate) == offset && (!best || candidate < *best)) best = candidate;
  }
  // In a gap neither offset fits: the wall time read with the offset before the jump
  // lands the same distance after it.
  const std::int64_t instant = best ? *best : wall - before;
  return Timestamp(std::chrono::seconds(instant));
}

std::string format_local(Timestamp at, const TimeZone& zone) {
  const auto offset = zone.offset_at(at);
  const auto local = std::chrono::floor<std::chrono::seconds>(at + offset);
  const auto day = std::chrono::floor<days>(local);
  const std::chrono::year_month_day ymd{day};
  const auto seconds = (local - day).count();
  const auto off = offset.count();
  const auto magnitude = off < 0 ? -off : off;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), seconds / 3600,
                     seconds / 60 % 60, seconds % 60, off < 0 ? '-' : '+', magnitude / 3600, magnitude / 60 % 60);
}

}  // namespace topupd::core
