#include "topupd/adapters/sys/systemd.hpp"

#include <string>

#include <systemd/sd-daemon.h>

namespace topupd::adapters::systemd {

void notify(std::string_view state) {
  const std::string message(state);
  (void)sd_notify(0, message.c_str());
}

std::optional<core::Duration> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  // Half the deadline, as sd_watchdog_enabled(3) recommends.
  return std::chrono::duration_cast<core::Duration>(std::chrono::microseconds(usec / 2));
}

}  // namespace topupd::adapters::systemd
