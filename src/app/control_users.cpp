// topupctl's commands for the console's people: `user add|passwd|role|remove|list|totp`
// and `audit`, and the one way every actor writes the audit log (Daemon::audit). Each
// answers one JSON document like the other commands (control.cpp). Passwords arrive
// hex-encoded (one word on the control socket's line) and leave only as argon2id hashes.
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "records_json.hpp"
#include "topupd/adapters/auth/credentials.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::json_string;

namespace {

std::string ok(const std::string& message) {
  return fmt::format("{{\"ok\":true,\"message\":{}}}", json_string(message));
}

std::string no_such_user(const std::string& name) { return control_failure(fmt::format("no user is named {}", name)); }

}  // namespace

void Daemon::audit(const std::string& actor, const std::string& action, const std::string& detail) {
  try {
    store_->api().audit({clock_.now(), actor, action, detail});
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("audit");
    spdlog::error("cannot write the audit log: {} actor={} action={}", e.what(), field(actor), field(action));
  }
}

std::string Daemon::answer(const ctl::UserList&) {
  std::string out;
  for (const auto& user : store_->console().users()) {
    out += fmt::format("{}{{\"name\":{},\"role\":{},\"totp\":{},\"locked_until\":{},\"created_at\":{}}}",
                       out.empty() ? "" : ",", json_string(user.name), json_string(core::to_string(user.role)),
                       user.totp_secret.empty() ? "false" : "true", optional_time(user.failures.locked_until),
                       json_string(core::format_rfc3339(user.created_at)));
  }
  return fmt::format("{{\"ok\":true,\"users\":[{}]}}", out);
}

std::string Daemon::answer(const ctl::UserAdd& u) {
  adapters::ConsoleUser user;
  user.name = u.name;
  user.role = u.role;
  user.password_hash = adapters::auth::hash_password(u.password);
  user.created_at = clock_.now();
  if (!store_->console().add_user(user)) return control_failure(fmt::format("a user named {} exists", u.name));
  audit("topupctl", "user add", fmt::format("{} role={}", u.name, u.role_text));
  spdlog::info("console user added name={} role={}", field(u.name), u.role_text);
  return ok(fmt::format("user {} added as {}", u.name, u.role_text));
}

std::string Daemon::answer(const ctl::UserPasswd& u) {
  auto user = store_->console().user(u.name);
  if (!user) return no_such_user(u.name);
  user->password_hash = adapters::auth::hash_password(u.password);
  user->failures = {};
  store_->console().update_user(*user);
  audit("topupctl", "user passwd", u.name);
  return ok(fmt::format("password of {} changed; a lock from failed logins is lifted", u.name));
}

std::string Daemon::answer(const ctl::UserRole& u) {
  auto user = store_->console().user(u.name);
  if (!user) return no_such_user(u.name);
  user->role = u.role;
  store_->console().update_user(*user);
  audit("topupctl", "user role", fmt::format("{} role={}", u.name, u.role_text));
  return ok(fmt::format("{} is now {}", u.name, u.role_text));
}

std::string Daemon::answer(const ctl::UserRemove& u) {
  if (!store_->console().user(u.name)) return no_such_user(u.name);
  store_->console().remove_user(u.name);
  audit("topupctl", "user remove", u.name);
  return ok(fmt::format("user {} removed; their sessions ended", u.name));
}

std::string Daemon::answer(const ctl::UserTotp& u) {
  auto user = store_->console().user(u.name);
  if (!user) return no_such_user(u.name);
  user->totp_secret = adapters::auth::totp_secret();
  user->totp_last_step.reset();
  store_->console().update_user(*user);
  audit("topupctl", "user totp", u.name);
  return fmt::format("{{\"ok\":true,\"uri\":{}}}",
                     json_string(adapters::auth::otpauth_uri("topupd", u.name, user->totp_secret)));
}

std::string Daemon::answer(const ctl::Audit& a) {
  std::string out;
  for (const auto& entry : store_->api().audit_log(a.since, a.limit)) {
    out += fmt::format("{}{{\"at\":{},\"actor\":{},\"action\":{},\"detail\":{}}}", out.empty() ? "" : ",",
                       json_string(core::format_rfc3339(entry.at)), json_string(entry.actor), json_string(entry.action),
                       json_string(entry.detail));
  }
  return fmt::format("{{\"ok\":true,\"entries\":[{}]}}", out);
}

}  // namespace topupd::app
