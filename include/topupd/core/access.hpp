// Who may do what in the console, and the rules that guard it: roles, sessions' idle and
// absolute timeouts, throttling of failed logins, and the four eyes on a top-up (how many
// distinct approvers it needs, which approvals still count). Pure: times come in as
// arguments, decisions go out as values; the console (src/app/console*.cpp) acts on them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "topupd/core/money.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/topup.hpp"

namespace topupd::core {

// viewer sees; approver also approves, rejects, silences and acknowledges; admin also
// pauses, resumes and manages users.
enum class Role { viewer, approver, admin };
std::string_view to_string(Role role);
std::optional<Role> role_from(std::string_view text);

enum class Action { view, approve, silence, pause, manage_users };

// A local user's name: 1 to 64 letters, digits and - _ . @ (an e-mail address fits).
bool valid_user_name(std::string_view name);
// The shortest password a local user may have.
inline constexpr std::size_t kMinPasswordLength = 10;
bool may(Role role, Action action);

// A session lives while it has been used within `idle` and is younger than `max`.
bool session_alive(Timestamp created_at, Timestamp last_seen_at, Timestamp now, Duration idle, Duration max);

// Failed logins of one user name. The first `free_attempts` cost nothing; each one after
// locks the name for `first_lock`, doubling up to `max_lock`. A success clears them.
struct LoginThrottle {
  int free_attempts = 5;
  Duration first_lock{std::chrono::seconds(30)};
  Duration max_lock{std::chrono::hours(1)};
};
struct LoginFailures {
  int count = 0;
  std::optional<Timestamp> locked_until{};
};
LoginFailures after_failed_login(const LoginFailures& before, Timestamp now, const LoginThrottle& policy);
bool login_locked(const LoginFailures& failures, Timestamp now);

// What a person approves: the amount, where it comes from and where it goes. An approval
// counts only while the top-up's terms are still the ones approved.
std::string approval_terms(const TopUpRecord& record);

struct Approval {
  std::string key;       // the top-up's idempotency key
  std::string approver;  // a user name; "topupctl" for the server's shell
  std::string terms;     // approval_terms when approved
  Timestamp at;
};

// One approver, or two above `dual_above`.
int approvers_needed(const Money& amount, const std::optional<Money>& dual_above);
// Distinct approvers of `record` whose approval matches its current terms.
std::vector<std::string> counted_approvers(const TopUpRecord& record, const std::vector<Approval>& approvals);

}  // namespace topupd::core
