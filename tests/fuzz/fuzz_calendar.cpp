// Fuzzes the calendar parsers: cron expressions, RFC 3339 times, POSIX TZ rules and
// TZif data. None may crash; an accepted cron must yield due times that move forward.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "topupd/core/cron.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/timezone.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace topupd::core;
  if (auto cron = parse_cron(text); cron.value) {
    const Timestamp start{std::chrono::milliseconds(1'795'000'000'000)};
    if (auto due = next_due(*cron.value, TimeZone::fixed("X", 7 * 3600), start); due && *due <= start) std::abort();
  }
  (void)parse_rfc3339(text);
  (void)parse_posix_rule(text);
  if (auto zone = TimeZone::from_tzif("fuzz", text)) {
    const Timestamp at{std::chrono::milliseconds(1'795'000'000'000)};
    (void)zone->offset_at(at);
    (void)zone->from_local(zone->local_minute(at));
  }
  return 0;
}
