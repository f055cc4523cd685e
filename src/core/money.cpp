#include "topupd/core/money.hpp"

#include <array>
#include <cstdlib>

#include <fmt/format.h>

namespace topupd::core {
namespace {

struct CurrencyEntry {
  const char* code;
  int exponent;
};

// ISO-4217 minor-unit exponents for the currencies our gateways settle in.
constexpr std::array<CurrencyEntry, 27> kCurrencies{{
    {"AUD", 2}, {"BHD", 3}, {"CAD", 2}, {"CHF", 2}, {"CLP", 0}, {"CNY", 2}, {"EUR", 2},
    {"GBP", 2}, {"HKD", 2}, {"IDR", 2}, {"INR", 2}, {"JOD", 3}, {"JPY", 0}, {"KRW", 0},
    {"KWD", 3}, {"MYR", 2}, {"NZD", 2}, {"OMR", 3}, {"PHP", 2}, {"SAR", 2}, {"SEK", 2},
    {"SGD", 2}, {"THB", 2}, {"TND", 3}, {"USD", 2}, {"VND", 0}, {"ZAR", 2},
}};

void require_same_currency(const Money& a, const Money& b) {
  if (!(a.currency() == b.currency())) {
    // Mixing currencies would silently corrupt a balance: stop here.
    std::abort();
  }
}

MoneyParse fail(std::string message) { return {std::nullopt, std::move(message)}; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses an unsigned decimal with optional '_' between digits and at most one '.'.
// Produces minor units of `currency` or an error with a hint.
MoneyParse parse_amount(std::string_view text, Currency currency) {
  const std::string_view original = text;
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return fail("missing amount");
  if (text.find(',') != std::string_view::npos) {
    return fail(fmt::format(
        "'{}' uses ',' which is ambiguous; write thousands with '_' (10_000) and decimals "
        "with '.' (12.50)",
        original));
  }
  const auto first_dot = text.find('.');
  if (first_dot != std::string_view::npos && text.find('.', first_dot + 1) != std::string_view::npos) {
    return fail(fmt::format(
        "'{}' is ambiguous: '.' looks like a thousands separator; write 10_000_000 "
        "(underscores) and use '.' only for decimals",
        original));
  }
  std::string_view whole = text.substr(0, first_dot);
  std::string_view fraction =
      first_dot == std::string_view::npos ? std::string_view{} : text.substr(first_dot + 1);

  // Checks a run of digits with '_' only between digits and adds them to `minor`,
  // as the decimal's next digits; `overflow` notes a value past int64.
  std::int64_t minor = 0;
  bool overflow = false;
  auto take_digits = [&](std::string_view part, int& count) -> bool {
    char previous = '_';
    for (char c : part) {
      if (c == '_') {
        if (previous == '_') return false;  // leading or doubled underscore
      } else if (is_digit(c)) {
        count += 1;
        overflow = overflow || __builtin_mul_overflow(minor, 10, &minor) || __builtin_add_overflow(minor, c - '0', &minor);
      } else {
        return false;
      }
      previous = c;
    }
    return part.empty() || previous != '_';
  };
  const auto digits = [](std::string_view part) {
    std::string out;
    for (char c : part) {
      if (c != '_') out.push_back(c);
    }
    return out;
  };
  int whole_count = 0;
  int fraction_count = 0;
  if (!take_digits(whole, whole_count) || whole_count == 0) {
    return fail(fmt::format("'{}' is not a number (digits, '_' between digits, one '.')", original));
  }
  if (first_dot != std::string_view::npos && (!take_digits(fraction, fraction_count) || fraction_count == 0)) {
    return fail(fmt::format("'{}' is not a number (digits, '_' between digits, one '.')", original));
  }
  const int exponent = currency.exponent();
  if (fraction_count > exponent) {
    if (fraction_count == 3 && exponent != 3) {
      return fail(fmt::format(
          "'{}' is ambiguous: {} has {} decimal digits, and '.' followed by three digits "
          "looks like a thousands separator; write {}_{} for thousands",
          original, currency.code(), exponent, digits(whole), digits(fraction)));
    }
    return fail(fmt::format("'{}' has more decimal digits than {} allows ({})", original,
                            currency.code(), exponent));
  }
  for (int missing = exponent - fraction_count; missing > 0; --missing) {
    overflow = overflow || __builtin_mul_overflow(minor, 10, &minor);
  }
  if (overflow) return fail(fmt::format("'{}' is too large", original));
  if (negative) minor = -minor;
  return {Money(minor, currency), {}};
}

std::string group_thousands(std::string digits, char separator) {
  std::string out;
  const std::size_t n = digits.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0 && (n - i) % 3 == 0) out.push_back(separator);
    out.push_back(digits[i]);
  }
  return out;
}

// Splits |minor| into major and fraction digit strings (exact, via unsigned math so
// that INT64_MIN formats correctly).
std::pair<std::string, std::string> split(const Money& money) {
  const std::uint64_t magnitude =
      money.is_negative() ? 0 - static_cast<std::uint64_t>(money.minor())
                          : static_cast<std::uint64_t>(money.minor());
  const auto per_major = static_cast<std::uint64_t>(money.currency().minor_per_major());
  std::string major = std::to_string(magnitude / per_major);
  std::string fraction = std::to_string(magnitude % per_major);
  while (static_cast<int>(fraction.size()) < money.currency().exponent()) {
    fraction.insert(fraction.begin(), '0');
  }
  if (money.currency().exponent() == 0) fraction.clear();
  return {major, fraction};
}

}  // namespace

std::optional<Currency> Currency::find(std::string_view code) {
  for (const auto& entry : kCurrencies) {
    if (code == entry.code) return Currency(entry.code, entry.exponent);
  }
  return std::nullopt;
}

std::int64_t Currency::minor_per_major() const {
  std::int64_t factor = 1;
  for (int i = 0; i < exponent_; ++i) factor *= 10;
  return factor;
}

std::optional<Money> Money::checked_add(const Money& other) const {
  require_same_currency(*this, other);
  std::int64_t result = 0;
  if (__builtin_add_overflow(minor_, other.minor_, &result)) return std::nullopt;
  return Money(result, currency_);
}

std::optional<Money> Money::checked_sub(const Money& other) const {
  require_same_currency(*this, other);
  std::int64_t result = 0;
  if (__builtin_sub_overflow(minor_, other.minor_, &result)) return std::nullopt;
  return Money(result, currency_);
}

std::optional<Money> Money::checked_mul(std::int64_t factor) const {
  std::int64_t result = 0;
  if (__builtin_mul_overflow(minor_, factor, &result)) return std::nullopt;
  return Money(result, currency_);
}

bool operator==(const Money& a, const Money& b) {
  require_same_currency(a, b);
  return a.minor_ == b.minor_;
}

bool operator<(const Money& a, const Money& b) {
  require_same_currency(a, b);
  return a.minor_ < b.minor_;
}

Money min(const Money& a, const Money& b) { return b < a ? b : a; }
Money max(const Money& a, const Money& b) { return a < b ? b : a; }

MoneyParse parse_money(std::string_view text, std::optional<Currency> default_currency) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return fail("empty amount; write e.g. IDR 10_000_000");

  const auto space = text.find(' ');
  if (space == std::string_view::npos) {
    if (!default_currency) {
      return fail(fmt::format("'{}' has no currency; write e.g. IDR {}", text, text));
    }
    if (text.size() >= 3 && !is_digit(text.front()) && text.front() != '-' && text.front() != '+') {
      return fail(fmt::format("'{}': put a space between the currency code and the amount", text));
    }
    return parse_amount(text, *default_currency);
  }
  const std::string_view code = text.substr(0, space);
  std::string_view amount = text.substr(space + 1);
  while (!amount.empty() && amount.front() == ' ') amount.remove_prefix(1);
  auto currency = Currency::find(code);
  if (!currency) {
    std::string upper(code);
    for (char& c : upper) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (upper != code && Currency::find(upper)) {
      return fail(fmt::format("currency '{}' must be upper-case: {}", code, upper));
    }
    return fail(fmt::format("unknown currency '{}' (ISO-4217 code such as IDR, USD, SGD)", code));
  }
  if (default_currency && !(*default_currency == *currency)) {
    return fail(fmt::format("currency {} does not match the account's currency {}", code,
                            default_currency->code()));
  }
  return parse_amount(amount, *currency);
}

MoneyParse parse_decimal_amount(std::string_view text, Currency currency) {
  return parse_amount(text, currency);
}

std::string format_human(const Money& money) {
  auto [major, fraction] = split(money);
  std::string out(money.currency().code());
  out += ' ';
  if (money.is_negative()) out += '-';
  out += group_thousands(major, ',');
  if (!fraction.empty()) {
    out += '.';
    out += fraction;
  }
  return out;
}

std::string format_id_id(const Money& money) {
  auto [major, fraction] = split(money);
  const bool rupiah = money.currency().code() == "IDR";
  std::string out = rupiah ? "Rp" : std::string(money.currency().code()) + " ";
  if (money.is_negative()) out = "-" + out;
  out += group_thousands(major, '.');
  if (fraction.find_first_not_of('0') != std::string::npos || (!rupiah && !fraction.empty())) {
    out += ',';
    out += fraction;
  }
  return out;
}

std::string format_decimal(const Money& money) {
  auto [major, fraction] = split(money);
  return (money.is_negative() ? "-" : "") + major + (fraction.empty() ? "" : "." + fraction);
}

std::string format_config(const Money& money) {
  auto [major, fraction] = split(money);
  std::string out(money.currency().code());
  out += ' ';
  if (money.is_negative()) out += '-';
  out += group_thousands(major, '_');
  if (fraction.find_first_not_of('0') != std::string::npos) {
    out += '.';
    out += fraction;
  }
  return out;
}

}  // namespace topupd::core
