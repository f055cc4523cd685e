// Minimal JSON text helpers for the few small documents topupd writes by hand.
#pragma once

#include <string>
#include <string_view>

namespace topupd::adapters {

// A JSON string literal, quoted and escaped (control characters as \u00XX).
std::string json_string(std::string_view text);

}  // namespace topupd::adapters
