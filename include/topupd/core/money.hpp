// Money and currencies: exact amounts as int64 minor units.
//
// Every amount in topupd is a `Money`: a signed 64-bit count of the currency's minor
// unit (sen for IDR, cents for USD, fils for KWD) plus its ISO-4217 currency. There is
// no floating point anywhere on the way in or out: decimal text from users and gateways
// is parsed straight to minor units, and arithmetic is overflow-checked, returning
// `std::nullopt` instead of wrapping. Comparing or adding amounts of different
// currencies is a programming error and aborts (it would corrupt money state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topupd::core {

// An ISO-4217 currency: its three-letter code and its minor-unit exponent.
class Currency {
 public:
  // Looks a code up in the built-in ISO-4217 table (upper-case, e.g. "IDR").
  // Returns nullopt for codes that are not in the table.
  static std::optional<Currency> find(std::string_view code);

  std::string_view code() const { return {code_, 3}; }
  // Number of decimal digits of the minor unit: IDR 2, USD 2, JPY 0, KWD 3.
  int exponent() const { return exponent_; }
  // 10^exponent: how many minor units make one major unit.
  std::int64_t minor_per_major() const;

  friend bool operator==(const Currency& a, const Currency& b) {
    return a.code() == b.code();
  }

 private:
  Currency(const char* code, int exponent) : exponent_(exponent) {
    for (int i = 0; i < 3; ++i) code_[i] = code[i];
  }
  char code_[3];
  int exponent_;
};

class Money {
 public:
  Money(std::int64_t minor, Currency currency) : minor_(minor), currency_(currency) {}

  std::int64_t minor() const { return minor_; }
  const Currency& currency() const { return currency_; }
  bool is_negative() const { return minor_ < 0; }
  bool is_zero() const { return minor_ == 0; }
  bool is_positive() const { return minor_ > 0; }

  // Overflow-checked arithmetic; nullopt when the result does not fit in int64.
  // Both operands must have the same currency (abort otherwise).
  std::optional<Money> checked_add(const Money& other) const;
  std::optional<Money> checked_sub(const Money& other) const;
  // Multiplies by an integer factor.
  std::optional<Money> checked_mul(std::int64_t factor) const;

  // Same-currency comparisons (abort on a currency mismatch).
  friend bool operator==(const Money& a, const Money& b);
  friend bool operator<(const Money& a, const Money& b);
  friend bool operator>(const Money& a, const Money& b) { return b < a; }
  friend bool operator<=(const Money& a, const Money& b) { return !(b < a); }
  friend bool operator>=(const Money& a, const Money& b) { return !(a < b); }

 private:
  std::int64_t minor_;
  Currency currency_;
};

Money min(const Money& a, const Money& b);
Money max(const Money& a, const Money& b);

// Result of parsing money text: either a value or a message saying what is wrong
// and how to write it instead.
struct MoneyParse {
  std::optional<Money> value;
  std::string error;
};

// Parses "IDR 10_000_000", "USD 12.50", "USD -3" (the sign after the code), and
// plain digits ("10000000", "12.50") when `default_currency` is given.
// Underscores may separate digits. Rejected with a hint:
//  * "10.000.000" and "IDR 10.000" (a '.' that looks like a thousands separator),
//  * "10,000" (commas are ambiguous between locales),
//  * more fraction digits than the currency has ("JPY 1.5", "USD 1.005"),
//  * unknown or lower-case currency codes, empty text, values beyond int64.
MoneyParse parse_money(std::string_view text, std::optional<Currency> default_currency = {});

// Parses a plain decimal amount in major units ("12.50", "-3", "1000") for a known
// currency, as gateways send it. Same rules as parse_money without a currency code.
MoneyParse parse_decimal_amount(std::string_view text, Currency currency);

// "IDR 10,000,000.00": code, grouped major units, all minor digits. For people.
std::string format_human(const Money& money);
// Indonesian conventions: "Rp10.000.000" (whole rupiah without ",00"), "-Rp500",
// "USD 1.234,56".
std::string format_id_id(const Money& money);
// "IDR 10_000_000" or "USD 12.50": the config syntax; parse_money reads it back.
std::string format_config(const Money& money);
// "10000000.00", "-3.50", "500" (JPY): major units with every minor digit, no code and
// no grouping — the decimal string APIs and machine consumers read.
std::string format_decimal(const Money& money);

}  // namespace topupd::core
