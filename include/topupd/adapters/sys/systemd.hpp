// The systemd service manager protocol (sd_notify): readiness, reload, stop and
// watchdog messages. Every call is a no-op when not started by systemd
// ($NOTIFY_SOCKET unset).
#pragma once

#include <optional>
#include <string_view>

#include "topupd/core/time.hpp"

namespace topupd::adapters::systemd {

// Sends a state string such as "READY=1\nSTATUS=…". Failures are ignored: the
// daemon works the same without a service manager.
void notify(std::string_view state);

// The interval at which WATCHDOG=1 must be sent (half of $WATCHDOG_USEC), or nullopt
// when the watchdog is not enabled for this process.
std::optional<core::Duration> watchdog_interval();

}  // namespace topupd::adapters::systemd
