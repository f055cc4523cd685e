// What a topupctl request line asks for: the words of one line from the control socket
// read into a typed request, or refused with the message topupctl shows. Pure: no store,
// no clock, no logging — Daemon::control (control.cpp) carries the request out, and the
// fuzz target reads any line through here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "topupd/core/access.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/topup.hpp"

namespace topupd::app::ctl {

struct Status {};
struct Tickets {};
struct History {
  std::optional<std::string> account, rule;
  std::optional<core::TopUpState> state;
  core::Timestamp since{};
};
struct Decide {
  std::string key;
  bool approve = false;
};
struct Pause {
  bool pause = false;
};
struct ResumeRule {
  std::string rule;
};
struct Silence {
  bool ack = false;  // an acknowledgement rather than a silence
  std::string target, duration, reason;
};
struct Unsilence {
  std::string target;
};
struct TokenList {};
struct TokenAdd {
  std::string name;
  std::vector<std::string> scopes;  // read and/or demands, each once
};
struct TokenRevoke {
  std::string name;
};
struct UserList {};
struct UserAdd {
  std::string name;
  core::Role role{};
  std::string role_text, password;  // the password decoded from its hex word
};
struct UserPasswd {
  std::string name, password;
};
struct UserRole {
  std::string name;
  core::Role role{};
  std::string role_text;
};
struct UserRemove {
  std::string name;
};
struct UserTotp {
  std::string name;
};
struct Audit {
  core::Timestamp since{};
  std::size_t limit = 1000;
};

using Request = std::variant<Status, Tickets, History, Decide, Pause, ResumeRule, Silence, Unsilence, TokenList, TokenAdd,
                             TokenRevoke, UserList, UserAdd, UserPasswd, UserRole, UserRemove, UserTotp, Audit>;

struct Parsed {
  std::optional<Request> request;
  std::string refused;  // why not, when there is no request
};

inline constexpr std::size_t kMaxAuditLimit = 100'000;

Parsed parse(std::string_view line);

// A token's name: 1 to 64 letters, digits and - _ .
bool valid_token_name(std::string_view name);

}  // namespace topupd::app::ctl
