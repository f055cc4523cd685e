// The store's small value types as the text every engine stores: see store.hpp.
#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {

core::RulePhase rule_phase_from(std::string_view text) {
  if (text == "firing") return core::RulePhase::firing;
  if (text == "pending") return core::RulePhase::pending;
  return core::RulePhase::inactive;
}

std::string_view to_string(OutboxState state) {
  switch (state) {
    case OutboxState::pending: return "pending";
    case OutboxState::delivered: return "delivered";
    case OutboxState::rejected: return "rejected";
  }
  return "rejected";
}

OutboxState outbox_state_from(std::string_view text) {
  if (text == "pending") return OutboxState::pending;
  if (text == "delivered") return OutboxState::delivered;
  return OutboxState::rejected;
}

std::string_view to_string(SilenceKind kind) { return kind == SilenceKind::ack ? "ack" : "silence"; }

std::optional<SilenceKind> silence_kind_from(std::string_view text) {
  if (text == "silence") return SilenceKind::silence;
  if (text == "ack") return SilenceKind::ack;
  return std::nullopt;
}

}  // namespace topupd::adapters
