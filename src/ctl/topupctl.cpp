// topupctl: operate a running topupd over its control socket.
//
//   topupctl [--socket PATH] status               accounts, balances, rule states, top-ups in flight
//   topupctl [--socket PATH] history [filters]    the journal (--json, --csv for an ERP)
//   topupctl [--socket PATH] approve KEY | reject KEY
//   topupctl [--socket PATH] pause | resume       the kill switch, persisted
//
// Exit status: 0 done, 1 the daemon refused (e.g. no such top-up), 2 usage error,
// 3 the daemon could not be reached.
#include <sys/socket.h>
#include <termios.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "print.hpp"
#include "topupd/adapters/qr/qr_image.hpp"

namespace {

namespace json = boost::json;
using namespace topupctl;

constexpr const char* kDefaultSocket = "/run/topupd/control.sock";
constexpr const char* kUsage =
    "Usage: topupctl [--socket PATH] [--json] COMMAND\n"
    "\n"
    "Commands:\n"
    "  status                      accounts and balances, rule states, top-ups in flight, the pause switch\n"
    "  history [--account NAME] [--rule NAME] [--state STATE] [--since RFC3339] [--csv]\n"
    "                              the top-up journal, oldest first\n"
    "  tickets                     deposits waiting to be paid: bank, account, exact amount, expiry\n"
    "  approve KEY                 send a top-up that waits for approval\n"
    "  reject KEY                  drop a top-up that waits for approval\n"
    "  pause                       start no top-ups (monitoring and alerts go on); survives restarts\n"
    "  resume                      allow top-ups again\n"
    "  silence RULE|ACCOUNT --for DURATION [--reason TEXT]\n"
    "                              send no alerts about it until DURATION (30m, 2h, 1d) has passed\n"
    "  ack RULE|ACCOUNT [--for DURATION] [--reason TEXT]\n"
    "                              stop repeats of a firing alert until it resolves (at most DURATION, default 24h)\n"
    "  unsilence RULE|ACCOUNT      lift a silence or acknowledgement early\n"
    "  resume-rule RULE            let a rule that suspended itself after failed top-ups top up again\n"
    "  token add NAME --scope read|demands [--scope …]\n"
    "                              a bearer token for the API (api: in the config); printed once, kept hashed\n"
    "  token list                  the API's tokens: scopes, created, last used, revoked\n"
    "  token revoke NAME           the token opens nothing from now on\n"
    "  user add NAME --role viewer|approver|admin\n"
    "                              a person who signs in to the console; the password is read from the\n"
    "                              terminal (asked twice) or from one line of standard input\n"
    "  user passwd NAME            a new password (lifts a lock from failed logins)\n"
    "  user role NAME ROLE         viewer, approver or admin\n"
    "  user remove NAME            the user and every session of theirs end\n"
    "  user totp NAME              enrol a one-time-code app: prints its QR code once; approvals then ask for a code\n"
    "  user list                   the console's users: role, TOTP, locks\n"
    "  audit [--since RFC3339] [--csv]\n"
    "                              who did what: logins, approvals, rejections, silences, pauses, tokens, users\n"
    "\n"
    "Options: --socket PATH (default /run/topupd/control.sock, as control.socket in the config),\n"
    "--json (print the daemon's JSON answer).\n"
    "Exit status: 0 done, 1 refused by topupd, 2 usage error, 3 topupd not reachable.\n";

struct Reply {
  bool reached = false;
  std::string text;
  std::string error;
};

// A password: from the terminal without echo, asked twice; else one line of standard input.
std::optional<std::string> read_password() {
  if (!::isatty(STDIN_FILENO)) {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    return line;
  }
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::string first, second;
  std::fprintf(stderr, "Password: ");
  std::getline(std::cin, first);
  std::fprintf(stderr, "\nThe same again: ");
  std::getline(std::cin, second);
  std::fprintf(stderr, "\n");
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (first != second) {
    std::fprintf(stderr, "topupctl: the two passwords differ\n");
    return std::nullopt;
  }
  return first;
}

std::string hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

Reply ask(const std::string& socket_path, const std::string& request) {
  Reply reply;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (fd < 0 || socket_path.size() >= sizeof(address.sun_path)) {
    reply.error = "bad socket path";
    if (fd >= 0) ::close(fd);
    return reply;
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    reply.error = fmt::format("cannot reach topupd at {}: {}", socket_path, std::strerror(errno));
    ::close(fd);
    return reply;
  }
  const std::string line = request + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    reply.error = fmt::format("cannot send to topupd: {}", std::strerror(errno));
    ::close(fd);
    return reply;
  }
  char buffer[65536];
  ssize_t n = 0;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) reply.text.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  reply.reached = !reply.text.empty();
  if (!reply.reached) reply.error = "topupd closed the connection without answering";
  return reply;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = kDefaultSocket;
  bool json_output = false;
  bool csv = false;
  std::string duration;
  std::string reason;
  std::vector<std::string> scopes;
  std::string role;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
    if (arg == "--json") {
      json_output = true;
    } else if (arg == "--csv") {
      csv = true;
    } else if (arg == "--socket" && i + 1 < argc) {
      socket_path = argv[++i];
    } else if ((arg == "--account" || arg == "--rule" || arg == "--state" || arg == "--since") && i + 1 < argc) {
      words.push_back(arg.substr(2));
      words.push_back(argv[++i]);
    } else if (arg == "--for" && i + 1 < argc) {
      duration = argv[++i];
    } else if (arg == "--reason" && i + 1 < argc) {
      reason = argv[++i];
    } else if (arg == "--scope" && i + 1 < argc) {
      scopes.push_back(argv[++i]);
    } else if (arg == "--role" && i + 1 < argc) {
      role = argv[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "topupctl: unknown option '%s'\n\n%s", arg.c_str(), kUsage);
      return 2;
    } else {
      words.push_back(arg);
    }
  }
  if (words.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  const std::string command = words[0];
  const bool takes_key = command == "approve" || command == "reject" || command == "silence" || command == "ack" ||
                         command == "unsilence" || command == "resume-rule";
  const std::string token_action = command == "token" && words.size() > 1 ? words[1] : "";
  const bool token_ok = (token_action == "add" && words.size() == 3 && !scopes.empty()) ||
                        (token_action == "list" && words.size() == 2 && scopes.empty()) ||
                        (token_action == "revoke" && words.size() == 3 && scopes.empty());
  if (command == "token" && !token_ok) {
    std::fprintf(stderr, "topupctl: bad command line\n\n%s", kUsage);
    return 2;
  }
  if (command != "token" && !scopes.empty()) {
    std::fprintf(stderr, "topupctl: --scope is for token add\n\n%s", kUsage);
    return 2;
  }
  for (const auto& scope : scopes) words.push_back(scope);
  // user: the role and the password go as words of their own (the password hex-encoded).
  const std::string user_action = command == "user" && words.size() > 1 ? words[1] : "";
  const bool user_ok = (user_action == "add" && words.size() == 3 && !role.empty()) ||
                       ((user_action == "passwd" || user_action == "remove" || user_action == "totp") &&
                        words.size() == 3 && role.empty()) ||
                       (user_action == "role" && words.size() == 4 && role.empty()) ||
                       (user_action == "list" && words.size() == 2 && role.empty());
  if ((command == "user" && !user_ok) || (command != "user" && !role.empty())) {
    std::fprintf(stderr, "topupctl: bad command line\n\n%s", kUsage);
    return 2;
  }
  if (user_action == "add") words.push_back(role);
  if (user_action == "add" || user_action == "passwd") {
    const auto password = read_password();
    if (!password) return 2;
    words.push_back(hex(*password));
  }
  const bool known = command == "status" || command == "history" || command == "tickets" || takes_key ||
                     command == "pause" || command == "resume" || command == "token" || command == "user" ||
                     command == "audit";
  const bool silencing = command == "silence" || command == "ack";
  if (!known || (takes_key && words.size() != 2) ||
      (!takes_key && command != "history" && command != "token" && command != "user" && command != "audit" &&
       words.size() != 1) ||
      (command == "audit" && words.size() != 1 && !(words.size() == 3 && words[1] == "since")) ||
      (csv && command != "history" && command != "audit") || (command == "silence" && duration.empty()) ||
      (!silencing && (!duration.empty() || !reason.empty()))) {
    std::fprintf(stderr, "topupctl: bad command line\n\n%s", kUsage);
    return 2;
  }
  if (silencing) {
    words.push_back(duration.empty() ? "24h" : duration);
    if (!reason.empty()) words.push_back(reason);  // the daemon joins the rest into the reason
  }
  std::string request;
  for (const auto& word : words) request += (request.empty() ? "" : " ") + word;

  const Reply reply = ask(socket_path, request);
  if (!reply.reached) {
    std::fprintf(stderr, "topupctl: %s\n", reply.error.c_str());
    return 3;
  }
  boost::system::error_code parse_error;
  const json::value answer = json::parse(reply.text, parse_error);
  if (parse_error || !answer.is_object()) {
    std::fprintf(stderr, "topupctl: topupd answered something that is not JSON\n");
    return 3;
  }
  const auto& object = answer.as_object();
  const bool ok = object.contains("ok") && object.at("ok").is_bool() && object.at("ok").as_bool();
  if (json_output) {
    std::printf("%s\n", json::serialize(answer).c_str());
  } else if (!ok) {
    std::fprintf(stderr, "topupctl: %s\n", object.contains("error") ? str(object.at("error")).c_str() : "refused");
  } else if (command == "status") {
    print_status(object);
  } else if (command == "history") {
    print_history(object, csv);
  } else if (command == "tickets") {
    print_tickets(object);
  } else if (command == "token") {
    print_tokens(object);
  } else if (command == "user") {
    print_users(object);
  } else if (command == "audit") {
    print_audit(object, csv);
  } else if (command == "pause" || command == "resume") {
    std::printf("top-ups %s\n", object.at("paused").as_bool() ? "paused" : "allowed again");
  } else {
    std::printf("%s\n", str(object.at("message")).c_str());
  }
  return ok ? 0 : 1;
}
