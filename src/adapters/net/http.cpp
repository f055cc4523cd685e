#include "topupd/adapters/net/http.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

namespace topupd::adapters {

const char* to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::retryable: return "retryable";
    case FailureKind::not_retryable: return "not_retryable";
    case FailureKind::outcome_unknown: return "outcome_unknown";
  }
  return "unknown";
}

namespace net {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

std::string Url::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Url> parse_url(std::string_view text) {
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  url.scheme = lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    url.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return std::nullopt;
  for (char c : url.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':')) return std::nullopt;
  }
  url.host = lower(url.host);
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    const int port = std::stoi(std::string(port_text));
    if (port <= 0 || port > 65535) return std::nullopt;
    url.port = static_cast<std::uint16_t>(port);
  } else {
    url.port = url.tls() ? 443 : 80;
  }
  url.target = target.empty() ? "/" : (target.front() == '?' ? "/" + std::string(target) : std::string(target));
  return url;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", static_cast<unsigned>(c));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%' && i + 2 < s.size() &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto end = std::min(text.find('&', pos), text.size());
    const std::string_view part = text.substr(pos, end - pos);
    if (!part.empty()) {
      const auto eq = part.find('=');
      out.emplace_back(decode(part.substr(0, eq)), eq == std::string_view::npos ? "" : decode(part.substr(eq + 1)));
    }
    pos = end + 1;
  }
  return out;
}

bool bypasses_proxy(std::string_view host, std::uint16_t port, std::string_view no_proxy) {
  const std::string h = lower(host);
  std::size_t pos = 0;
  while (pos <= no_proxy.size()) {
    const auto end = std::min(no_proxy.find_first_of(", ", pos), no_proxy.size());
    std::string entry = lower(trim(no_proxy.substr(pos, end - pos)));
    pos = end + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    // An optional ":port" (not for bare IPv6 addresses).
    if (const auto colon = entry.rfind(':'); colon != std::string::npos && entry.find(':') == colon) {
      const std::string entry_port = entry.substr(colon + 1);
      entry = entry.substr(0, colon);
      if (entry_port != std::to_string(port)) continue;
    }
    if (entry.size() > 2 && entry.front() == '[' && entry.back() == ']') entry = entry.substr(1, entry.size() - 2);
    if (entry.front() == '.') entry = entry.substr(1);
    if (h == entry) return true;
    if (h.size() > entry.size() && h.compare(h.size() - entry.size(), entry.size(), entry) == 0 &&
        h[h.size() - entry.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

core::Duration full_jitter_backoff(int attempt, core::Duration base, core::Duration cap, std::uint64_t random) {
  core::Duration ceiling = base;
  for (int i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (ceiling.count() <= 0) return core::Duration(0);
  return core::Duration(static_cast<core::Duration::rep>(random % static_cast<std::uint64_t>(ceiling.count() + 1)));
}

std::optional<core::Duration> parse_retry_after(std::string_view value, core::Timestamp now) {
  const std::string v = trim(value);
  if (v.empty()) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (v.size() > 9) return std::nullopt;
    return std::chrono::seconds(std::stol(v));
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (v.size() != 29 || v.substr(3, 2) != ", " || v.substr(25) != " GMT") return std::nullopt;
  auto number = [&](std::size_t at, std::size_t len) -> int {
    const std::string part = v.substr(at, len);
    if (part.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(part);
  };
  const int day = number(5, 2), year = number(12, 4), hour = number(17, 2), minute = number(20, 2),
            second = number(23, 2);
  int month = 0;
  for (int i = 0; i < 12; ++i) {
    if (v.substr(8, 3) == kMonths[static_cast<std::size_t>(i)]) month = i + 1;
  }
  if (day < 1 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60 ||
      month == 0 || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v[19] != ':' || v[22] != ':') {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  const auto at = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                  std::chrono::seconds(second);
  const auto delay = std::chrono::duration_cast<core::Duration>(at - now);
  return delay.count() < 0 ? core::Duration(0) : delay;
}

RateLimiter::RateLimiter(int per_second, int burst)
    : interval_(std::chrono::nanoseconds(1'000'000'000LL / std::max(1, per_second))),
      tolerance_(interval_ * (std::max(1, burst) - 1)) {}

std::optional<core::Duration> RateLimiter::try_acquire(core::MonotonicTime now) {
  const auto t = std::chrono::time_point_cast<std::chrono::nanoseconds>(now);
  const std::chrono::steady_clock::time_point current(t.time_since_epoch());
  const auto earliest = theoretical_ - tolerance_;
  if (current < earliest) {
    return std::chrono::ceil<core::Duration>(earliest - current);
  }
  theoretical_ = std::max(theoretical_, current) + interval_;
  return std::nullopt;
}

void RateLimiter::block_until(core::MonotonicTime until) {
  const std::chrono::steady_clock::time_point u(std::chrono::nanoseconds(until.time_since_epoch()));
  theoretical_ = std::max(theoretical_, u + tolerance_);
}

bool CircuitBreaker::allow(core::MonotonicTime now) {
  switch (state_) {
    case State::closed: return true;
    case State::open:
      if (now - opened_at_ < open_for_) return false;
      state_ = State::half_open;
      probing_ = true;
      return true;
    case State::half_open:
      if (probing_) return false;  // one probe at a time
      probing_ = true;
      return true;
  }
  return true;
}

void CircuitBreaker::record(bool success, core::MonotonicTime now) {
  if (success) {
    state_ = State::closed;
    failures_ = 0;
    probing_ = false;
    return;
  }
  probing_ = false;
  if (state_ == State::half_open || ++failures_ >= threshold_) {
    state_ = State::open;
    opened_at_ = now;
    failures_ = 0;
  }
}

const char* to_string(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::closed: return "closed";
    case CircuitBreaker::State::open: return "open";
    case CircuitBreaker::State::half_open: return "half_open";
  }
  return "closed";
}

}  // namespace net
}  // namespace topupd::adapters
