#include "topupd/core/money.hpp"

#include <climits>

#include <gtest/gtest.h>

namespace topupd::core {
namespace {

Currency currency(const char* code) { return *Currency::find(code); }

std::int64_t minor_of(std::string_view text, std::optional<Currency> fallback = {}) {
  auto parsed = parse_money(text, fallback);
  EXPECT_TRUE(parsed.value.has_value()) << text << ": " << parsed.error;
  return parsed.value ? parsed.value->minor() : INT64_MIN;
}

std::string error_of(std::string_view text, std::optional<Currency> fallback = {}) {
  auto parsed = parse_money(text, fallback);
  EXPECT_FALSE(parsed.value.has_value()) << text << " parsed as " << (parsed.value ? parsed.value->minor() : 0);
  return parsed.error;
}

TEST(CurrencyTest, KnowsIso4217Exponents) {
  EXPECT_EQ(currency("IDR").exponent(), 2);
  EXPECT_EQ(currency("USD").exponent(), 2);
  EXPECT_EQ(currency("SGD").exponent(), 2);
  EXPECT_EQ(currency("JPY").exponent(), 0);
  EXPECT_EQ(currency("KWD").exponent(), 3);
  EXPECT_EQ(currency("KWD").minor_per_major(), 1000);
  EXPECT_FALSE(Currency::find("XXX"));
  EXPECT_FALSE(Currency::find("idr"));
}

TEST(MoneyTest, ParsesCodeWithUnderscoreGroupedAmount) {
  EXPECT_EQ(minor_of("IDR 10_000_000"), 1'000'000'000);
  EXPECT_EQ(minor_of("IDR 10000000"), 1'000'000'000);
  EXPECT_EQ(parse_money("IDR 1").value->currency(), currency("IDR"));
}

TEST(MoneyTest, ParsesDecimalsUpToTheCurrencyExponent) {
  EXPECT_EQ(minor_of("USD 12.50"), 1250);
  EXPECT_EQ(minor_of("USD 12.5"), 1250);
  EXPECT_EQ(minor_of("USD 0.01"), 1);
  EXPECT_EQ(minor_of("KWD 1.234"), 1234);
  EXPECT_EQ(minor_of("JPY 1_000"), 1000);
}

TEST(MoneyTest, ParsesPlainDigitsWithTheAccountCurrency) {
  EXPECT_EQ(minor_of("10000000", currency("IDR")), 1'000'000'000);
  EXPECT_EQ(minor_of("12.50", currency("USD")), 1250);
  EXPECT_NE(error_of("10000000").find("no currency"), std::string::npos);
}

TEST(MoneyTest, ParsesNegativeAmounts) {
  EXPECT_EQ(minor_of("USD -3"), -300);
  EXPECT_EQ(minor_of("-3", currency("USD")), -300);
}

TEST(MoneyTest, ParseRejectsAmbiguousThousandsSeparator) {
  EXPECT_NE(error_of("IDR 10.000.000").find("ambiguous"), std::string::npos);
  EXPECT_NE(error_of("IDR 10.000.000").find("10_000_000"), std::string::npos);
  // One dot followed by three digits in a two-decimal currency reads like thousands.
  const auto hint = error_of("IDR 10.000");
  EXPECT_NE(hint.find("ambiguous"), std::string::npos);
  EXPECT_NE(hint.find("10_000"), std::string::npos);
  // ...but is exact in a three-decimal currency.
  EXPECT_EQ(minor_of("KWD 10.000"), 10'000);
}

TEST(MoneyTest, ParseRejectsCommasWithAHint) {
  const auto error = error_of("IDR 10,000");
  EXPECT_NE(error.find("','"), std::string::npos);
  EXPECT_NE(error.find("10_000"), std::string::npos);
  error_of("USD 12,50");
}

TEST(MoneyTest, ParseRejectsTooManyDecimalDigits) {
  EXPECT_NE(error_of("JPY 1.5").find("decimal digits"), std::string::npos);
  EXPECT_NE(error_of("USD 1.0051").find("decimal digits"), std::string::npos);
}

TEST(MoneyTest, ParseRejectsMalformedText) {
  for (const char* text : {"", "IDR", "IDR ", "IDR _1", "IDR 1_", "IDR 1__0", "IDR 1.", "IDR .5",
                           "IDR abc", "IDR 1e6", "IDR 0x10", "IDR10"}) {
    SCOPED_TRACE(text);
    error_of(text);
  }
}

TEST(MoneyTest, ParseRejectsUnknownAndLowerCaseCurrencies) {
  EXPECT_NE(error_of("XYZ 1").find("unknown currency"), std::string::npos);
  EXPECT_NE(error_of("idr 1").find("upper-case: IDR"), std::string::npos);
}

TEST(MoneyTest, ParseRejectsACurrencyOtherThanTheAccounts) {
  EXPECT_NE(error_of("USD 1", currency("IDR")).find("does not match"), std::string::npos);
}

TEST(MoneyTest, ParseRejectsValuesBeyondInt64) {
  EXPECT_NE(error_of("IDR 92_233_720_368_547_758.08").find("too large"), std::string::npos);
  EXPECT_EQ(minor_of("IDR 92_233_720_368_547_758.07"), INT64_MAX);
}

TEST(MoneyTest, CheckedArithmeticReportsOverflow) {
  const Money max(INT64_MAX, currency("IDR"));
  const Money one(1, currency("IDR"));
  EXPECT_FALSE(max.checked_add(one));
  EXPECT_FALSE(Money(INT64_MIN, currency("IDR")).checked_sub(one));
  EXPECT_FALSE(max.checked_mul(2));
  EXPECT_EQ(one.checked_add(one)->minor(), 2);
  EXPECT_EQ(one.checked_sub(max)->minor(), 1 - INT64_MAX);
}

TEST(MoneyTest, ComparesWithinACurrency) {
  const Money a(100, currency("IDR"));
  const Money b(200, currency("IDR"));
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(b > a);
  EXPECT_TRUE(a <= a);
  EXPECT_EQ(min(a, b), a);
  EXPECT_EQ(max(a, b), b);
}

TEST(MoneyDeathTest, MixingCurrenciesAborts) {
  const Money idr(1, currency("IDR"));
  const Money usd(1, currency("USD"));
  EXPECT_DEATH({ (void)idr.checked_add(usd); }, "");
  EXPECT_DEATH({ (void)(idr < usd); }, "");
}

TEST(MoneyTest, FormatsForPeople) {
  EXPECT_EQ(format_human(*parse_money("IDR 10_000_000").value), "IDR 10,000,000.00");
  EXPECT_EQ(format_human(*parse_money("USD -1234.5").value), "USD -1,234.50");
  EXPECT_EQ(format_human(*parse_money("JPY 1000").value), "JPY 1,000");
  EXPECT_EQ(format_human(*parse_money("KWD 0.005").value), "KWD 0.005");
  EXPECT_EQ(format_human(Money(INT64_MIN, currency("USD"))), "USD -92,233,720,368,547,758.08");
}

TEST(MoneyTest, ConfigFormatRoundTrips) {
  for (const char* text : {"IDR 10_000_000", "USD 12.50", "USD -0.01", "JPY 7", "KWD 1_234.567"}) {
    const Money money = *parse_money(text).value;
    const Money again = *parse_money(format_config(money)).value;
    EXPECT_EQ(again, money) << text << " -> " << format_config(money);
  }
  EXPECT_EQ(format_config(*parse_money("IDR 10_000_000").value), "IDR 10_000_000");
}

TEST(MoneyTest, DecimalFormatKeepsEveryMinorDigitAndReadsBack) {
  EXPECT_EQ(format_decimal(*parse_money("IDR 10_000_000").value), "10000000.00");
  EXPECT_EQ(format_decimal(*parse_money("USD -3.5").value), "-3.50");
  EXPECT_EQ(format_decimal(*parse_money("USD -0.01").value), "-0.01");
  EXPECT_EQ(format_decimal(*parse_money("JPY 500").value), "500");
  EXPECT_EQ(format_decimal(*parse_money("KWD 0.005").value), "0.005");
  EXPECT_EQ(format_decimal(Money(INT64_MIN, currency("USD"))), "-92233720368547758.08");
  for (const char* text : {"IDR 250_000.50", "USD -12.34", "JPY 7", "KWD 1_234.567"}) {
    const Money money = *parse_money(text).value;
    EXPECT_EQ(*parse_decimal_amount(format_decimal(money), money.currency()).value, money) << text;
  }
}

TEST(MoneyTest, ParsesGatewayDecimalStrings) {
  EXPECT_EQ(parse_decimal_amount("123000.12", currency("IDR")).value->minor(), 12'300'012);
  EXPECT_FALSE(parse_decimal_amount("1.2.3", currency("IDR")).value);
}

}  // namespace
}  // namespace topupd::core
