// topupctl's commands for the console's people: `user add|passwd|role|remove|list|totp`
// and `audit`, and the one way every actor writes the audit log (Daemon::audit). Each
// answers one JSON document like the other commands (control.cpp). Passwords arrive
// hex-encoded (one word on the control socket's line) and leave only as argon2id hashes.
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "records_json.hpp"
#include "topupd/adapters/auth/credentials.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::json_string;

namespace {

std::string ok(const std::string& message) {
  return fmt::format("{{\"ok\":true,\"message\":{}}}", json_string(message));
}

}  // namespace

void Daemon::audit(const std::string& actor, const std::string& action, const std::string& detail) {
  try {
    store_->api().audit({clock_.now(), actor, action, detail});
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("audit");
    spdlog::error("cannot write the audit log: {} actor={} action={}", e.what(), field(actor), field(action));
  }
}

std::string Daemon::control_user(const std::vector<std::string>& args) {
  adapters::ConsoleStore& users = store_->console();
  const std::string action = args.empty() ? "" : args[0];
  if (action == "list" && args.size() == 1) {
    std::string out;
    for (const auto& user : users.users()) {
      out += fmt::format("{}{{\"name\":{},\"role\":{},\"totp\":{},\"locked_until\":{},\"created_at\":{}}}",
                         out.empty() ? "" : ",", json_string(user.name), json_string(core::to_string(user.role)),
                         user.totp_secret.empty() ? "false" : "true", optional_time(user.failures.locked_until),
                         json_string(core::format_rfc3339(user.created_at)));
    }
    return fmt::format("{{\"ok\":true,\"users\":[{}]}}", out);
  }
  if (args.size() < 2) return control_failure("user needs add, passwd, role, remove, list or totp and a name");
  const std::string& name = args[1];
  if (!core::valid_user_name(name)) return control_failure("a user's name is 1 to 64 letters, digits and - _ . @");
  const auto password = [&](std::size_t at) -> std::optional<std::string> {
    if (args.size() <= at) return std::nullopt;
    return adapters::crypto::unhex(args[at]);
  };
  if (action == "add" && args.size() == 4) {
    const auto role = core::role_from(args[2]);
    if (!role) return control_failure("the role is viewer, approver or admin");
    const auto secret = password(3);
    if (!secret || secret->size() < core::kMinPasswordLength) {
      return control_failure(fmt::format("a password has at least {} characters", core::kMinPasswordLength));
    }
    adapters::ConsoleUser user;
    user.name = name;
    user.role = *role;
    user.password_hash = adapters::auth::hash_password(*secret);
    user.created_at = clock_.now();
    if (!users.add_user(user)) return control_failure(fmt::format("a user named {} exists", name));
    audit("topupctl", "user add", fmt::format("{} role={}", name, args[2]));
    spdlog::info("console user added name={} role={}", field(name), args[2]);
    return ok(fmt::format("user {} added as {}", name, args[2]));
  }
  auto user = users.user(name);
  if (!user) return control_failure(fmt::format("no user is named {}", name));
  if (action == "passwd" && args.size() == 3) {
    const auto secret = password(2);
    if (!secret || secret->size() < core::kMinPasswordLength) {
      return control_failure(fmt::format("a password has at least {} characters", core::kMinPasswordLength));
    }
    user->password_hash = adapters::auth::hash_password(*secret);
    user->failures = {};
    users.update_user(*user);
    audit("topupctl", "user passwd", name);
    return ok(fmt::format("password of {} changed; a lock from failed logins is lifted", name));
  }
  if (action == "role" && args.size() == 3) {
    const auto role = core::role_from(args[2]);
    if (!role) return control_failure("the role is viewer, approver or admin");
    user->role = *role;
    users.update_user(*user);
    audit("topupctl", "user role", fmt::format("{} role={}", name, args[2]));
    return ok(fmt::format("{} is now {}", name, args[2]));
  }
  if (action == "remove" && args.size() == 2) {
    users.remove_user(name);
    audit("topupctl", "user remove", name);
    return ok(fmt::format("user {} removed; their sessions ended", name));
  }
  if (action == "totp" && args.size() == 2) {
    user->totp_secret = adapters::auth::totp_secret();
    user->totp_last_step.reset();
    users.update_user(*user);
    audit("topupctl", "user totp", name);
    return fmt::format("{{\"ok\":true,\"uri\":{}}}",
                       json_string(adapters::auth::otpauth_uri("topupd", name, user->totp_secret)));
  }
  return control_failure("user add NAME ROLE PASSWORD_HEX | passwd NAME PASSWORD_HEX | role NAME ROLE | remove NAME "
                         "| totp NAME | list");
}

std::string Daemon::control_audit(const std::vector<std::string>& args) {
  core::Timestamp since{};
  std::size_t limit = 1000;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "since") {
      const auto at = core::parse_rfc3339(args[i + 1]);
      if (!at) return control_failure("since needs an RFC 3339 time with an offset");
      since = *at;
    } else if (args[i] == "limit") {
      try {
        limit = std::min<std::size_t>(std::stoul(args[i + 1]), 100'000);
      } catch (const std::exception&) {
        return control_failure("limit is a number");
      }
    } else {
      return control_failure("audit takes: since TIME, limit N");
    }
  }
  std::string out;
  for (const auto& entry : store_->api().audit_log(since, limit)) {
    out += fmt::format("{}{{\"at\":{},\"actor\":{},\"action\":{},\"detail\":{}}}", out.empty() ? "" : ",",
                       json_string(core::format_rfc3339(entry.at)), json_string(entry.actor), json_string(entry.action),
                       json_string(entry.detail));
  }
  return fmt::format("{{\"ok\":true,\"entries\":[{}]}}", out);
}

}  // namespace topupd::app
