// Fuzzes the gateway JSON parser: no input may crash it or recurse without bound;
// whatever it accepts must serialise to text that parses back to the same document,
// and every number it keeps must still be a number when read again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "topupd/adapters/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto document = topupd::adapters::json::parse(text);
  if (!document) return 0;
  const std::string once = document->serialize();
  auto again = topupd::adapters::json::parse(once);
  if (!again || again->serialize() != once) std::abort();
  (void)document->at_pointer("/data/balance/0/amount");
  (void)document->at_pointer(text.substr(0, 16));
  return 0;
}
