#include "topupd/core/suspension.hpp"

namespace topupd::core {

std::string failure_code(std::string_view reason) {
  if (reason == "insufficient_funds" || reason == "unauthorized") return std::string(reason);
  return "declined";
}

bool record_outcome(FailureStreak& streak, const std::optional<std::string>& failure, const std::string& error,
                    std::uint32_t suspend_after) {
  if (!failure) {
    streak = FailureStreak{};
    return false;
  }
  streak.count += 1;
  streak.code = *failure;
  streak.last_error = error;
  return suspend_after > 0 && streak.count == suspend_after;
}

}  // namespace topupd::core
