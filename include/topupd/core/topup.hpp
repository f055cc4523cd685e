// The top-up journal's states and the transitions between them.
//
//   planned → submitted → pending → succeeded | failed
//                 └──────→ unknown ─(look-up)→ pending | succeeded | failed | (resubmit, same key)
//   awaiting_approval → planned (approved)
//
// `planned` is recorded with the idempotency key before any request leaves; `unknown`
// means a request may or may not have been executed (timeout, reset, 5xx) and must be
// looked up at the provider before anything else happens for that account.
#pragma once

#include <string_view>

namespace topupd::core {

enum class TopUpState { awaiting_approval, planned, submitted, pending, succeeded, failed, unknown };

std::string_view to_string(TopUpState state);
// succeeded and failed: nothing more will happen to this top-up.
bool is_terminal(TopUpState state);
// Whether the journal may move a top-up from `from` to `to`.
bool can_transition(TopUpState from, TopUpState to);

inline constexpr TopUpState kAllTopUpStates[] = {
    TopUpState::awaiting_approval, TopUpState::planned, TopUpState::submitted, TopUpState::pending,
    TopUpState::succeeded, TopUpState::failed, TopUpState::unknown};

}  // namespace topupd::core
