// Reading a topupctl request line (control_request.hpp).
#include "control_request.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"

namespace topupd::app::ctl {

namespace {

Parsed refuse(std::string message) { return {std::nullopt, std::move(message)}; }
Parsed accept(Request request) { return {std::move(request), {}}; }

Parsed history(const std::vector<std::string>& args) {
  const std::string usage = "history takes pairs: account NAME, rule NAME, state STATE, since TIME";
  if (args.size() % 2 != 0) return refuse(usage);
  History h;
  for (std::size_t i = 0; i < args.size(); i += 2) {
    const std::string& value = args[i + 1];
    if (args[i] == "account") {
      h.account = value;
    } else if (args[i] == "rule") {
      h.rule = value;
    } else if (args[i] == "state") {
      h.state = core::top_up_state_from(value);
      if (!h.state) return refuse(fmt::format("'{}' is not a top-up state", value));
    } else if (args[i] == "since") {
      const auto since = core::parse_rfc3339(value);
      if (!since) return refuse("since needs an RFC 3339 time with an offset");
      h.since = *since;
    } else {
      return refuse(usage);
    }
  }
  return accept(h);
}

Parsed token(const std::vector<std::string>& args) {
  const std::string action = args.empty() ? "" : args[0];
  if (action == "list" && args.size() == 1) return accept(TokenList{});
  if (action == "add" && args.size() >= 3) {
    TokenAdd add{args[1], {}};
    if (!valid_token_name(add.name)) return refuse("a token's name is 1 to 64 letters, digits and - _ .");
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (args[i] != "read" && args[i] != "demands") {
        return refuse(fmt::format("unknown scope {}; expected read or demands", args[i]));
      }
      if (std::find(add.scopes.begin(), add.scopes.end(), args[i]) == add.scopes.end()) add.scopes.push_back(args[i]);
    }
    return accept(add);
  }
  if (action == "revoke" && args.size() == 2) return accept(TokenRevoke{args[1]});
  return refuse("token takes: add NAME SCOPE…, list, or revoke NAME");
}

Parsed user(const std::vector<std::string>& args) {
  const std::string action = args.empty() ? "" : args[0];
  if (action == "list" && args.size() == 1) return accept(UserList{});
  if (args.size() < 2) return refuse("user needs add, passwd, role, remove, list or totp and a name");
  const std::string& name = args[1];
  if (!core::valid_user_name(name)) return refuse("a user's name is 1 to 64 letters, digits and - _ . @");
  // Passwords travel hex-encoded: one word on the line whatever they contain.
  const auto password = [&](const std::string& word) -> std::optional<std::string> {
    auto secret = adapters::crypto::unhex(word);
    if (!secret || secret->size() < core::kMinPasswordLength) return std::nullopt;
    return secret;
  };
  const std::string short_password = fmt::format("a password has at least {} characters", core::kMinPasswordLength);
  const std::string bad_role = "the role is viewer, approver or admin";
  if (action == "add" && args.size() == 4) {
    const auto role = core::role_from(args[2]);
    if (!role) return refuse(bad_role);
    auto secret = password(args[3]);
    if (!secret) return refuse(short_password);
    return accept(UserAdd{name, *role, args[2], std::move(*secret)});
  }
  if (action == "passwd" && args.size() == 3) {
    auto secret = password(args[2]);
    if (!secret) return refuse(short_password);
    return accept(UserPasswd{name, std::move(*secret)});
  }
  if (action == "role" && args.size() == 3) {
    const auto role = core::role_from(args[2]);
    if (!role) return refuse(bad_role);
    return accept(UserRole{name, *role, args[2]});
  }
  if (action == "remove" && args.size() == 2) return accept(UserRemove{name});
  if (action == "totp" && args.size() == 2) return accept(UserTotp{name});
  return refuse("user add NAME ROLE PASSWORD_HEX | passwd NAME PASSWORD_HEX | role NAME ROLE | remove NAME "
                "| totp NAME | list");
}

Parsed audit(const std::vector<std::string>& args) {
  const std::string usage = "audit takes: since TIME, limit N";
  if (args.size() % 2 != 0) return refuse(usage);
  Audit a;
  for (std::size_t i = 0; i < args.size(); i += 2) {
    const std::string& value = args[i + 1];
    if (args[i] == "since") {
      const auto at = core::parse_rfc3339(value);
      if (!at) return refuse("since needs an RFC 3339 time with an offset");
      a.since = *at;
    } else if (args[i] == "limit") {
      unsigned long long n = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (end != value.data() + value.size() || (error != std::errc() && error != std::errc::result_out_of_range)) {
        return refuse("limit is a number");
      }
      // A limit past the most an answer carries is that most.
      a.limit = error == std::errc::result_out_of_range ? kMaxAuditLimit
                                                        : static_cast<std::size_t>(std::min<unsigned long long>(n, kMaxAuditLimit));
    } else {
      return refuse(usage);
    }
  }
  return accept(a);
}

}  // namespace

bool valid_token_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const unsigned char c : name) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

Parsed parse(std::string_view line) {
  std::istringstream words{std::string(line)};
  std::string command;
  words >> command;
  std::vector<std::string> args;
  for (std::string word; words >> word;) args.push_back(word);
  if (command == "status") return accept(Status{});
  if (command == "tickets") return accept(Tickets{});
  if (command == "history") return history(args);
  if (command == "approve" || command == "reject") {
    if (args.empty()) return refuse(command + " needs a top-up key");
    return accept(Decide{args[0], command == "approve"});
  }
  if (command == "pause" || command == "resume") return accept(Pause{command == "pause"});
  if (command == "resume-rule") {
    if (args.size() != 1) return refuse("resume-rule takes the rule's name");
    return accept(ResumeRule{args[0]});
  }
  if (command == "silence" || command == "ack") {
    if (args.size() < 2) return refuse(command + " needs a rule or account and a duration");
    Silence s{command == "ack", args[0], args[1], {}};
    for (std::size_t i = 2; i < args.size(); ++i) s.reason += (s.reason.empty() ? "" : " ") + args[i];
    return accept(s);
  }
  if (command == "unsilence") {
    if (args.size() != 1) return refuse("unsilence needs a rule or account");
    return accept(Unsilence{args[0]});
  }
  if (command == "token") return token(args);
  if (command == "user") return user(args);
  if (command == "audit") return audit(args);
  return refuse(fmt::format("unknown command '{}'; expected status, history, tickets, approve, reject, pause, resume, "
                            "resume-rule, silence, ack, unsilence, token, user or audit",
                            command));
}

}  // namespace topupd::app::ctl
