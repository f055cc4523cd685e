#include "topupd/core/topup.hpp"

namespace topupd::core {

std::string_view to_string(TopUpState state) {
  switch (state) {
    case TopUpState::awaiting_approval: return "awaiting_approval";
    case TopUpState::planned: return "planned";
    case TopUpState::submitted: return "submitted";
    case TopUpState::pending: return "pending";
    case TopUpState::succeeded: return "succeeded";
    case TopUpState::failed: return "failed";
    case TopUpState::unknown: return "unknown";
    case TopUpState::rejected: return "rejected";
    case TopUpState::expired: return "expired";
  }
  return "invalid";
}

std::optional<TopUpState> top_up_state_from(std::string_view text) {
  for (auto state : kAllTopUpStates) {
    if (to_string(state) == text) return state;
  }
  return std::nullopt;
}

bool is_terminal(TopUpState state) {
  return state == TopUpState::succeeded || state == TopUpState::failed || state == TopUpState::rejected ||
         state == TopUpState::expired;
}

bool counts_toward_limits(TopUpState state) {
  return state != TopUpState::failed && state != TopUpState::rejected && state != TopUpState::expired;
}

bool can_transition(TopUpState from, TopUpState to) {
  using S = TopUpState;
  switch (from) {
    case S::awaiting_approval: return to == S::planned || to == S::rejected || to == S::expired;
    // expired: a deposit's ticket ran out before it was paid; pending: a person is to
    // pay a deposit's ticket (nothing was sent).
    case S::planned: return to == S::submitted || to == S::failed || to == S::expired || to == S::pending;
    case S::submitted:
      return to == S::pending || to == S::succeeded || to == S::failed || to == S::unknown;
    case S::pending: return to == S::succeeded || to == S::failed || to == S::unknown || to == S::expired;
    case S::unknown:
      // A look-up settles it, or finds nothing and the same request is sent again.
      return to == S::pending || to == S::succeeded || to == S::failed || to == S::submitted;
    case S::succeeded:
    case S::failed:
    case S::rejected:
    case S::expired: return false;
  }
  return false;
}

bool reflects_top_up(const Money& before, const Money& after, const Money& amount, int tolerance_percent) {
  // rise >= amount * (100 - tolerance) / 100, compared as rise * 100 >= amount * (100 - tolerance)
  // in 128 bits so that no product can overflow.
  __extension__ typedef __int128 Wide;
  const Wide rise = static_cast<Wide>(after.minor()) - before.minor();
  return rise * 100 >= static_cast<Wide>(amount.minor()) * (100 - tolerance_percent);
}

}  // namespace topupd::core
