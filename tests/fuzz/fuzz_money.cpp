// Fuzzes the money and duration parsers: no input may crash them, and whatever
// they accept must format and parse back to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "topupd/core/money.hpp"
#include "topupd/core/time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace topupd::core;
  for (const auto& currency : {std::optional<Currency>{}, Currency::find("IDR"), Currency::find("KWD"), Currency::find("JPY")}) {
    const MoneyParse parsed = parse_money(text, currency);
    if (parsed.value.has_value() == !parsed.error.empty()) std::abort();  // exactly one of value and error
    if (parsed.value) {
      const MoneyParse again = parse_money(format_config(*parsed.value));
      if (!again.value || !(*again.value == *parsed.value)) std::abort();
      (void)format_human(*parsed.value);
    }
  }
  const DurationParse duration = parse_duration(text);
  if (duration.value) {
    const DurationParse again = parse_duration(format_duration(*duration.value));
    if (!again.value || *again.value != *duration.value) std::abort();
  }
  return 0;
}
