// `topupd notify-test`: sends one test message through one notifier, bypassing the
// outbox, and prints what happened.
#pragma once

#include <string>

#include "topupd/config/config.hpp"

namespace topupd::app {

// Returns 0 when the notifier took the message, 1 when it did not (the reason on stdout).
int notify_test(const config::Config& config, const std::string& notifier);

}  // namespace topupd::app
