// Logging set-up: spdlog to stderr, one line per event, a sentence then `key=value`
// fields. Under systemd (JOURNAL_STREAM set) lines carry `<N>` priority prefixes and
// no timestamp, so journald records the right level; on a terminal they carry an
// RFC 3339 timestamp and a coloured level.
#pragma once

#include <string>
#include <string_view>

namespace topupd::adapters {

void init_logging();
// One of kLogLevels ("trace" … "off"); unknown names leave the level unchanged.
void set_log_level(std::string_view level);

// A `key=value` field value: quoted (with `"` and `\` escaped) when it holds spaces,
// quotes or '=', so every line stays machine-splittable.
std::string field(std::string_view value);

}  // namespace topupd::adapters
