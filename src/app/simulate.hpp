// `topupd simulate`: replays a CSV balance history through the config's rules.
#pragma once

#include <string>

#include "topupd/config/config.hpp"

namespace topupd::app {

struct SimulateOptions {
  std::string history_path;
  bool json = false;
  core::Duration settle_delay{0};
  std::string demands_path{};  // optional: demands for cover_demands rules
};

// Prints the timeline and summary (or JSON) to stdout; a bad history row is reported
// on stderr as FILE:LINE: message. Returns the exit code.
int simulate(const config::Config& config, const SimulateOptions& options);

}  // namespace topupd::app
