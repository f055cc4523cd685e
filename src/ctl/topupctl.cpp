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
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "topupd/adapters/qr/qr_image.hpp"

namespace {

namespace json = boost::json;

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
    "\n"
    "Options: --socket PATH (default /run/topupd/control.sock, as control.socket in the config),\n"
    "--json (print the daemon's JSON answer).\n"
    "Exit status: 0 done, 1 refused by topupd, 2 usage error, 3 topupd not reachable.\n";

struct Reply {
  bool reached = false;
  std::string text;
  std::string error;
};

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

std::string str(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "-";
  if (v.is_bool()) return v.as_bool() ? "yes" : "no";
  return json::serialize(v);
}

void print_status(const json::object& status) {
  std::printf("top-ups: %s%s\n", status.at("paused").as_bool() ? "PAUSED (topupctl resume to allow them)" : "allowed",
              status.at("dry_run").as_bool() ? " (dry run: none is sent)" : "");
  if (status.contains("destinations") && status.at("destinations").is_object()) {
    const auto& d = status.at("destinations").as_object();
    std::printf("destinations: pinned by %s (sha256 %s, %s accounts)\n\n", str(d.at("path")).c_str(),
                str(d.at("sha256")).c_str(), str(d.at("accounts")).c_str());
  } else {
    std::printf("destinations: not pinned\n\n");
  }
  const bool several = status.contains("instances") && status.at("instances").is_object();
  if (several) {
    const auto& i = status.at("instances").as_object();
    std::printf("instances sharing the store (lease %s; this one is %s):\n", str(i.at("lease")).c_str(),
                str(i.at("self")).c_str());
    std::printf("  %-40s %-25s %-25s %s\n", "INSTANCE", "STARTED", "HEARTBEAT", "ACCOUNTS");
    for (const auto& entry : i.at("instances").as_array()) {
      const auto& o = entry.as_object();
      std::printf("  %-40s %-25s %-25s %s\n", str(o.at("id")).c_str(), str(o.at("started_at")).c_str(),
                  str(o.at("heartbeat_at")).c_str(), str(o.at("accounts")).c_str());
    }
    std::printf("  accounts without an owner: %s\n", str(i.at("accounts_without_owner")).c_str());
    std::printf("  notifications sent by: %s\n\n",
                i.at("notifications_sent_by").is_string() ? str(i.at("notifications_sent_by")).c_str() : "nobody now");
  }
  std::printf("%-20s %24s  %-25s %-6s %s\n", "ACCOUNT", "BALANCE", "POLLED", "FRESH", "FAILED POLLS");
  for (const auto& a : status.at("accounts").as_array()) {
    const auto& o = a.as_object();
    if (several && o.contains("owned_here") && !o.at("owned_here").as_bool()) continue;  // its owner shows it
    std::printf("%-20s %24s  %-25s %-6s %s\n", str(o.at("name")).c_str(), str(o.at("balance")).c_str(),
                str(o.at("polled_at")).c_str(), str(o.at("fresh")).c_str(), str(o.at("consecutive_failures")).c_str());
  }
  std::printf("\n%-24s %-16s %-13s %-9s %-25s %s\n", "RULE", "ACCOUNT", "CONDITION", "STATE", "SINCE", "CAPS LEFT");
  for (const auto& r : status.at("rules").as_array()) {
    const auto& o = r.as_object();
    std::string caps;
    if (o.contains("caps_left")) {
      for (const auto& c : o.at("caps_left").as_array()) {
        const auto& cap = c.as_object();
        caps += (caps.empty() ? "" : ", ") + str(cap.at("cap")) + " " + str(cap.at("remaining"));
      }
    }
    std::printf("%-24s %-16s %-13s %-9s %-25s %s\n", str(o.at("name")).c_str(), str(o.at("account")).c_str(),
                str(o.at("condition")).c_str(), str(o.at("state")).c_str(), str(o.at("since")).c_str(),
                caps.empty() ? "-" : caps.c_str());
    if (o.contains("suspended") && o.at("suspended").is_string()) {
      std::printf("  SUSPENDED: %s (topupctl resume-rule %s)\n", str(o.at("suspended")).c_str(), str(o.at("name")).c_str());
    }
  }
  const auto& open = status.at("open_top_ups").as_array();
  std::printf("\n%zu top-up%s in flight\n", open.size(), open.size() == 1 ? "" : "s");
  for (const auto& t : open) {
    const auto& o = t.as_object();
    std::printf("  %s  %s %s  %s  (%s)\n", str(o.at("key")).c_str(), str(o.at("method")).c_str(),
                str(o.at("amount")).c_str(), str(o.at("state")).c_str(), str(o.at("rule")).c_str());
  }
  if (status.contains("silences") && !status.at("silences").as_array().empty()) {
    std::printf("\n%-24s %-8s %-25s %s\n", "SILENCED", "KIND", "UNTIL", "REASON");
    for (const auto& s : status.at("silences").as_array()) {
      const auto& o = s.as_object();
      std::printf("%-24s %-8s %-25s %s\n", str(o.at("target")).c_str(), str(o.at("kind")).c_str(),
                  str(o.at("expires_at")).c_str(), str(o.at("reason")).c_str());
    }
  }
}

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void print_tickets(const json::object& answer) {
  const auto& tickets = answer.at("tickets").as_array();
  for (const auto& t : tickets) {
    const auto& o = t.as_object();
    const auto& ticket = o.at("ticket").as_object();
    const std::string code = ticket.contains("qr") ? str(ticket.at("qr")) : "";
    if (!code.empty()) {
      // A QRIS code: drawn here, to be scanned off the screen, and its string for an app that takes text.
      std::printf("%s  pay exactly %s with QRIS code %s%s\n  paid by %s; %s  topup=%s rule=%s\n",
                  str(o.at("account")).c_str(), str(o.at("amount")).c_str(), str(ticket.at("reference")).c_str(),
                  ticket.at("expires_at").is_null() ? "" : (" before " + str(ticket.at("expires_at"))).c_str(),
                  str(o.at("paid_by")).c_str(), str(o.at("state")).c_str(), str(o.at("key")).c_str(),
                  str(o.at("rule")).c_str());
      if (const auto drawn = topupd::adapters::qr::terminal(code)) std::printf("%s", drawn->c_str());
      std::printf("  %s\n", code.c_str());
      continue;
    }
    std::printf("%s  pay exactly %s to %s %s (%s)%s\n  paid by %s; %s  topup=%s rule=%s\n",
                str(o.at("account")).c_str(), str(o.at("amount")).c_str(), str(ticket.at("bank")).c_str(),
                str(ticket.at("account_no")).c_str(), str(ticket.at("name")).c_str(),
                ticket.at("expires_at").is_null() ? "" : (" before " + str(ticket.at("expires_at"))).c_str(),
                str(o.at("paid_by")).c_str(), str(o.at("state")).c_str(), str(o.at("key")).c_str(),
                str(o.at("rule")).c_str());
  }
  std::printf("%zu open ticket%s\n", tickets.size(), tickets.size() == 1 ? "" : "s");
}

// token add: the secret, once; token list: the table; token revoke: what happened.
void print_tokens(const json::object& answer) {
  if (answer.contains("token")) {
    std::printf("%s\n", str(answer.at("token")).c_str());
    std::fprintf(stderr, "topupctl: the token above is shown once; topupd keeps only its hash\n");
    return;
  }
  if (!answer.contains("tokens")) {
    std::printf("%s\n", str(answer.at("message")).c_str());
    return;
  }
  std::printf("%-20s %-16s %-25s %-25s %s\n", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED");
  for (const auto& t : answer.at("tokens").as_array()) {
    const auto& o = t.as_object();
    std::string scopes;
    for (const auto& scope : o.at("scopes").as_array()) scopes += (scopes.empty() ? "" : ",") + str(scope);
    const auto when = [&](const char* field) { return o.at(field).is_null() ? std::string("-") : str(o.at(field)); };
    std::printf("%-20s %-16s %-25s %-25s %s\n", str(o.at("name")).c_str(), scopes.c_str(), str(o.at("created_at")).c_str(),
                when("last_used_at").c_str(), when("revoked_at").c_str());
  }
}

void print_history(const json::object& history, bool csv) {
  const auto& top_ups = history.at("top_ups").as_array();
  if (csv) {
    std::printf(
        "key,rule,account,provider,method,amount_minor,currency,state,reference,created_at,settled_at,rail,need,"
        "pays_bank,pays_account_no\n");
    for (const auto& t : top_ups) {
      const auto& o = t.as_object();
      std::string row;
      for (const char* column : {"key", "rule", "account", "provider", "method", "amount_minor", "currency", "state",
                                 "reference", "created_at", "settled_at", "rail", "need"}) {
        const auto& v = o.at(column);
        row += (row.empty() ? "" : ",") + csv_field(v.is_null() ? "" : str(v));
      }
      // A deposit: the bank and account its payment goes to.
      const bool ticket = o.contains("ticket") && o.at("ticket").is_object();
      row += "," + (ticket ? csv_field(str(o.at("ticket").as_object().at("bank"))) : std::string());
      row += "," + (ticket ? csv_field(str(o.at("ticket").as_object().at("account_no"))) : std::string());
      std::printf("%s\n", row.c_str());
    }
    return;
  }
  std::printf("%-25s %-20s %-14s %-13s %24s  %-18s %s\n", "CREATED", "RULE", "ACCOUNT", "METHOD", "AMOUNT", "STATE", "KEY");
  for (const auto& t : top_ups) {
    const auto& o = t.as_object();
    std::printf("%-25s %-20s %-14s %-13s %24s  %-18s %s\n", str(o.at("created_at")).c_str(), str(o.at("rule")).c_str(),
                str(o.at("account")).c_str(), str(o.at("method")).c_str(), str(o.at("amount")).c_str(),
                str(o.at("state")).c_str(), str(o.at("key")).c_str());
    if (o.contains("ticket") && o.at("ticket").is_object()) {
      const auto& ticket = o.at("ticket").as_object();
      std::printf("  pays %s %s (%s)\n", str(ticket.at("bank")).c_str(), str(ticket.at("account_no")).c_str(),
                  str(ticket.at("name")).c_str());
    }
    // Why it failed; or, for one that succeeded, what happened after (a reversed payout).
    if (o.contains("last_error") && !str(o.at("last_error")).empty()) {
      std::printf("  %s: %s\n", str(o.at("state")) == "succeeded" ? "needs attention" : "why",
                  str(o.at("last_error")).c_str());
    }
  }
  std::printf("%zu top-up%s\n", top_ups.size(), top_ups.size() == 1 ? "" : "s");
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = kDefaultSocket;
  bool json_output = false;
  bool csv = false;
  std::string duration;
  std::string reason;
  std::vector<std::string> scopes;
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
  const bool known = command == "status" || command == "history" || command == "tickets" || takes_key ||
                     command == "pause" || command == "resume" || command == "token";
  const bool silencing = command == "silence" || command == "ack";
  if (!known || (takes_key && words.size() != 2) ||
      (!takes_key && command != "history" && command != "token" && words.size() != 1) ||
      (csv && command != "history") || (command == "silence" && duration.empty()) ||
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
  } else if (command == "pause" || command == "resume") {
    std::printf("top-ups %s\n", object.at("paused").as_bool() ? "paused" : "allowed again");
  } else {
    std::printf("%s\n", str(object.at("message")).c_str());
  }
  return ok ? 0 : 1;
}
