// Top-ups and times as JSON, one form for every reader: topupctl's answers and the
// backend's API. Private to src/app.
#pragma once

#include <optional>
#include <string>

#include "topupd/core/time.hpp"
#include "topupd/core/topup.hpp"

namespace topupd::app {

// topupctl's answer when it refuses: {"ok":false,"error":"…"}.
std::string control_failure(const std::string& message);
// An RFC 3339 string, or null.
std::string optional_time(const std::optional<core::Timestamp>& at);
// A deposit's destination once journalled: the account it pays; null otherwise.
std::string ticket_json(const core::TopUpRecord& r);
// A journalled top-up: amounts in minor units and as a decimal string, its rail (from 1)
// and the need it serves.
std::string json_of(const core::TopUpRecord& r);

}  // namespace topupd::app
