// Roles, sessions, login throttling and the four eyes (core/access.hpp).
#include "topupd/core/access.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace topupd::core {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::viewer: return "viewer";
    case Role::approver: return "approver";
    case Role::admin: return "admin";
  }
  return "viewer";
}

std::optional<Role> role_from(std::string_view text) {
  for (Role role : {Role::viewer, Role::approver, Role::admin}) {
    if (to_string(role) == text) return role;
  }
  return std::nullopt;
}

bool may(Role role, Action action) {
  switch (action) {
    case Action::view: return true;
    case Action::approve:
    case Action::silence: return role == Role::approver || role == Role::admin;
    case Action::pause:
    case Action::manage_users: return role == Role::admin;
  }
  return false;
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '@';
  });
}

bool session_alive(Timestamp created_at, Timestamp last_seen_at, Timestamp now, Duration idle, Duration max) {
  return now - last_seen_at < idle && now - created_at < max && now >= created_at;
}

LoginFailures after_failed_login(const LoginFailures& before, Timestamp now, const LoginThrottle& policy) {
  LoginFailures after = before;
  after.count = before.count + 1;
  const int over = after.count - policy.free_attempts;
  if (over <= 0) return after;
  Duration lock = policy.first_lock;
  for (int i = 1; i < over && lock < policy.max_lock; ++i) lock *= 2;
  after.locked_until = now + std::min(lock, policy.max_lock);
  return after;
}

bool login_locked(const LoginFailures& failures, Timestamp now) {
  return failures.locked_until && now < *failures.locked_until;
}

std::string approval_terms(const TopUpRecord& record) {
  return fmt::format("{} {} {} from {} to {}:{}{}", record.amount.minor(), record.amount.currency().code(),
                     to_string(record.method), record.source.empty() ? "-" : record.source, record.provider,
                     record.destination_id, record.ticket_provider.empty() ? "" : " via " + record.ticket_provider);
}

int approvers_needed(const Money& amount, const std::optional<Money>& dual_above) {
  return dual_above && amount > *dual_above ? 2 : 1;
}

std::vector<std::string> counted_approvers(const TopUpRecord& record, const std::vector<Approval>& approvals) {
  const std::string terms = approval_terms(record);
  std::vector<std::string> out;
  for (const auto& approval : approvals) {
    if (approval.key != record.key || approval.terms != terms || approval.at < record.created_at) continue;
    if (std::find(out.begin(), out.end(), approval.approver) == out.end()) out.push_back(approval.approver);
  }
  return out;
}

}  // namespace topupd::core
