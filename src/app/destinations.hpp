// The pinned destinations file as the daemon reads it at start: the file itself (is it
// there, is it safe from the service), its SHA-256, and its accounts
// (config/destinations.hpp parses them and checks a config against them).
//
// Private to src/app.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "topupd/config/destinations.hpp"

namespace topupd::app {

struct PinnedDestinations {
  std::string path;
  std::string sha256;  // hex, of the file's bytes as read
  config::Pins pins;
};

struct PinnedRead {
  std::optional<PinnedDestinations> pinned;  // nullopt: nothing pinned (or problems)
  std::vector<config::Diagnostic> diagnostics;
};

// Reads `config`'s destinations file. The default file pins only when it exists; a
// file the config names must exist. A file the service could change (not root's,
// writable by group or others, or by this process when it is not root) is refused:
// the pin would not hold.
PinnedRead read_pinned_destinations(const config::Config& config);

// Reads the file and checks `config` against it: every problem, for `check` and start.
PinnedRead pin_and_check(const config::Config& config);

}  // namespace topupd::app
