// Commands from topupctl: status, history, approve, reject, pause, resume, silence, ack,
// unsilence, token (user and audit: control_users.cpp).
// Each answers one JSON document: {"ok":true,…} or {"ok":false,"error":"…"}.
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "records_json.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::json_string;
using core::TopUpState;

namespace {

std::string failure(const std::string& message) { return control_failure(message); }

bool valid_token_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const unsigned char c : name) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::string Daemon::control(const std::string& request) {
  std::istringstream words(request);
  std::string command;
  words >> command;
  std::vector<std::string> args;
  for (std::string word; words >> word;) args.push_back(word);
  try {
    if (command == "status") return control_status();
    if (command == "history") return control_history(args);
    if (command == "tickets") return control_tickets();
    if (command == "approve" || command == "reject") {
      if (args.empty()) return failure(command + " needs a top-up key");
      return control_decide(args[0], command == "approve");
    }
    if (command == "pause" || command == "resume") return control_pause(command == "pause");
    if (command == "resume-rule") return control_resume_rule(args);
    if (command == "token") return control_token(args);
    if (command == "user") return control_user(args);
    if (command == "audit") return control_audit(args);
    if (command == "silence" || command == "ack") {
      if (args.size() < 2) return failure(command + " needs a rule or account and a duration");
      std::string reason;
      for (std::size_t i = 2; i < args.size(); ++i) reason += (reason.empty() ? "" : " ") + args[i];
      const auto kind = command == "ack" ? adapters::SilenceKind::ack : adapters::SilenceKind::silence;
      return control_silence(kind, args[0], args[1], reason);
    }
    if (command == "unsilence") {
      if (args.size() != 1) return failure("unsilence needs a rule or account");
      return control_unsilence(args[0]);
    }
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("control");
    return failure(std::string("the store failed: ") + e.what());
  }
  return failure(fmt::format("unknown command '{}'; expected status, history, tickets, approve, reject, pause, resume, "
                             "resume-rule, silence, ack, unsilence, token, user or audit",
                             command));
}

std::string Daemon::control_status() {
  const core::Timestamp now = clock_.now();
  std::string accounts;
  for (const auto& [name, account] : poller_->accounts()) {
    const auto fresh = poller_->fresh_latest(name, now);
    accounts += fmt::format(
        "{}{{\"name\":{},\"provider\":{},\"currency\":{},\"balance_minor\":{},\"balance\":{},\"polled_at\":{},"
        "\"fresh\":{},\"consecutive_failures\":{},\"owned_here\":{}}}",
        accounts.empty() ? "" : ",", json_string(name), json_string(account->config.provider),
        json_string(account->config.currency.code()),
        account->watch.latest ? std::to_string(account->watch.latest->balance.minor()) : "null",
        account->watch.latest ? json_string(core::format_human(account->watch.latest->balance)) : "null",
        optional_time(account->watch.latest ? std::optional(account->watch.latest->at) : std::nullopt), fresh ? "true" : "false",
        account->watch.consecutive_failures, owns(name) ? "true" : "false");
  }
  std::string rules;
  for (const auto& rule : generation_.config.rules) {
    const core::RuleState state = runner_->state(rule.name);
    const std::optional<std::string> suspended = suspensions_->suspended(rule.name);
    std::string caps;
    if (const config::AccountConfig* account = generation_.config.find_account(rule.account)) {
      for (const auto& left : runner_->caps_left(rule, account->currency, now)) {
        caps += fmt::format("{}{{\"cap\":{},\"remaining_minor\":{},\"remaining\":{}}}", caps.empty() ? "" : ",",
                            json_string(left.cap), left.remaining.minor(), json_string(core::format_human(left.remaining)));
      }
    }
    rules += fmt::format(
        "{}{{\"name\":{},\"account\":{},\"enabled\":{},\"condition\":{},\"state\":{},\"since\":{},\"caps_left\":[{}],"
        "\"suspended\":{}}}",
        rules.empty() ? "" : ",", json_string(rule.name), json_string(rule.account), rule.enabled ? "true" : "false",
        json_string(core::to_string(rule.when.kind)), json_string(core::to_string(state.phase)),
        optional_time(state.phase == core::RulePhase::firing ? state.fired_at : state.condition_since), caps,
        suspended ? json_string(*suspended) : "null");
  }
  std::string open;
  for (const auto& record : executor_->journal()) {
    if (!core::is_terminal(record.state)) open += (open.empty() ? "" : ",") + json_of(record);
  }
  std::string silences;
  for (const auto& silence : alerts_->active_silences(now)) {
    silences += fmt::format("{}{{\"target\":{},\"kind\":{},\"reason\":{},\"created_at\":{},\"expires_at\":{}}}",
                            silences.empty() ? "" : ",", json_string(silence.target), json_string(adapters::to_string(silence.kind)),
                            json_string(silence.reason), json_string(core::format_rfc3339(silence.created_at)),
                            json_string(core::format_rfc3339(silence.expires_at)));
  }
  const std::string destinations =
      pinned_ ? fmt::format("{{\"path\":{},\"sha256\":{},\"accounts\":{},\"bank_accounts\":{},"
                            "\"virtual_accounts\":{}}}",
                            json_string(pinned_->path), json_string(pinned_->sha256), pinned_->pins.accounts.size(),
                            pinned_->pins.bank_accounts.size(), pinned_->pins.virtual_accounts.size())
              : "null";
  return fmt::format("{{\"ok\":true,\"paused\":{},\"dry_run\":{},\"destinations\":{},\"accounts\":[{}],\"rules\":[{}],"
                     "\"open_top_ups\":[{}],\"silences\":[{}],\"instances\":{}}}",
                     executor_->paused() ? "true" : "false", generation_.config.dry_run ? "true" : "false", destinations,
                     accounts, rules, open, silences, instances_json());
}

std::string Daemon::control_resume_rule(const std::vector<std::string>& args) {
  if (args.size() != 1) return failure("resume-rule takes the rule's name");
  if (auto refused = suspensions_->resume(args[0], "with topupctl")) return failure(*refused);
  audit("topupctl", "resume-rule", args[0]);
  return fmt::format("{{\"ok\":true,\"message\":{}}}",
                     json_string(fmt::format("rule {} resumed: it may top up again", args[0])));
}

std::string Daemon::control_history(const std::vector<std::string>& args) {
  std::map<std::string, std::string> filters;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) filters[args[i]] = args[i + 1];
  if (args.size() % 2 != 0) return failure("history takes pairs: account NAME, rule NAME, state STATE, since TIME");
  std::optional<core::Timestamp> since = core::Timestamp{};
  if (auto it = filters.find("since"); it != filters.end()) {
    since = core::parse_rfc3339(it->second);
    if (!since) return failure("since needs an RFC 3339 time with an offset");
  }
  std::string out;
  std::size_t count = 0;
  for (const auto& record : store_->top_ups_created_since(*since)) {
    if (filters.count("account") && record.account != filters["account"]) continue;
    if (filters.count("rule") && record.rule != filters["rule"]) continue;
    if (filters.count("state") && core::to_string(record.state) != filters["state"]) continue;
    out += (out.empty() ? "" : ",") + json_of(record);
    ++count;
  }
  return fmt::format("{{\"ok\":true,\"count\":{},\"top_ups\":[{}]}}", count, out);
}

std::string Daemon::control_tickets() {
  // Open deposits whose destination is known: what is to be paid, where, until when.
  std::string out;
  for (const auto& record : executor_->journal()) {
    if (!record.ticket || core::is_terminal(record.state)) continue;
    out += (out.empty() ? "" : ",") +
           fmt::format("{{\"key\":{},\"rule\":{},\"account\":{},\"state\":{},\"amount\":{},\"paid_by\":{},"
                       "\"ticket\":{}}}",
                       json_string(record.key), json_string(record.rule), json_string(record.account),
                       json_string(core::to_string(record.state)), json_string(core::format_human(record.amount)),
                       json_string(core::paid_by_person(record) ? "a person" : record.provider), ticket_json(record));
  }
  return "{\"ok\":true,\"tickets\":[" + out + "]}";
}

std::string Daemon::control_decide(const std::string& key, bool approve) {
  const auto decided = executor_->decide(key, approve, "topupctl", "with topupctl");
  if (decided.refused) return failure(*decided.refused);
  audit("topupctl", approve ? "approve" : "reject", key);
  std::string message = "rejected " + key;
  if (approve && decided.released) message = "approved " + key + "; sending it now";
  if (approve && !decided.released) {
    message = fmt::format("approval of {} kept ({} of {}); it waits for another approver, in the console", key,
                          decided.approvals, decided.needed);
  }
  return fmt::format("{{\"ok\":true,\"message\":{}}}", json_string(message));
}

std::string Daemon::control_pause(bool pause) {
  set_paused(pause, "topupctl");
  return fmt::format("{{\"ok\":true,\"paused\":{}}}", pause ? "true" : "false");
}

void Daemon::set_paused(bool pause, const std::string& who) {
  store_->set_setting("paused", pause ? "yes" : "no");
  executor_->set_paused(pause);
  metrics_.set_paused(pause);
  audit(who, pause ? "pause" : "resume", "");
  spdlog::warn("{} by {}: {}", pause ? "paused" : "resumed", field(who),
               pause ? "no top-up will start until resumed; monitoring and alerts go on" : "top-ups may start again");
}

std::string Daemon::control_silence(adapters::SilenceKind kind, const std::string& target, const std::string& duration,
                                    const std::string& reason) {
  if (auto refused = silence(kind, target, duration, reason, "topupctl")) return failure(*refused);
  const char* done = kind == adapters::SilenceKind::ack ? "acknowledged" : "silenced";
  const auto until = clock_.now() + *core::parse_duration(duration).value;
  return fmt::format("{{\"ok\":true,\"message\":{}}}",
                     json_string(fmt::format("{} {} until {}", done, target, core::format_rfc3339(until))));
}

std::optional<std::string> Daemon::silence(adapters::SilenceKind kind, const std::string& target,
                                           const std::string& duration, const std::string& reason,
                                           const std::string& who) {
  if (!generation_.config.find_account(target)) {
    bool rule = false;
    for (const auto& r : generation_.config.rules) rule = rule || r.name == target;
    if (!rule) return fmt::format("'{}' is neither a rule nor an account", target);
  }
  const auto length = core::parse_duration(duration);
  if (!length.value || length.value->count() <= 0) return std::string("the duration must be like 30m, 2h or 1d");
  const auto now = clock_.now();
  const adapters::Silence silence{target, kind, reason.empty() ? "(no reason given)" : reason, now, now + *length.value};
  alerts_->silence(silence);
  const char* done = kind == adapters::SilenceKind::ack ? "acknowledged" : "silenced";
  audit(who, kind == adapters::SilenceKind::ack ? "ack" : "silence",
        fmt::format("{} for {}: {}", target, duration, silence.reason));
  spdlog::warn("{} by {}: {} until={} reason={}", done, field(who), field(target),
               core::format_rfc3339(silence.expires_at), field(silence.reason));
  return std::nullopt;
}

std::string Daemon::control_unsilence(const std::string& target) {
  if (!unsilence(target, "topupctl")) return failure(fmt::format("nothing silences or acknowledges '{}'", target));
  return fmt::format("{{\"ok\":true,\"message\":{}}}", json_string("notifications for " + target + " resumed"));
}

bool Daemon::unsilence(const std::string& target, const std::string& who) {
  if (!alerts_->unsilence(target)) return false;
  audit(who, "unsilence", target);
  spdlog::info("silence lifted by {}: {}", field(who), field(target));
  return true;
}

// The API's bearer tokens (api.hpp): made here, shown once, kept as a hash; every
// change audited like an API call.
std::string Daemon::control_token(const std::vector<std::string>& args) {
  adapters::ApiStore& api = store_->api();
  const core::Timestamp now = clock_.now();
  const std::string action = args.empty() ? "" : args[0];
  if (action == "list" && args.size() == 1) {
    std::string out;
    for (const auto& token : api.tokens()) {
      std::string scopes;
      for (const auto& scope : token.scopes) scopes += (scopes.empty() ? "" : ",") + json_string(scope);
      out += fmt::format("{}{{\"name\":{},\"scopes\":[{}],\"created_at\":{},\"last_used_at\":{},\"revoked_at\":{}}}",
                         out.empty() ? "" : ",", json_string(token.name), scopes,
                         json_string(core::format_rfc3339(token.created_at)), optional_time(token.last_used_at),
                         optional_time(token.revoked_at));
    }
    return fmt::format("{{\"ok\":true,\"tokens\":[{}]}}", out);
  }
  if (action == "add" && args.size() >= 3) {
    const std::string& name = args[1];
    if (!valid_token_name(name)) return failure("a token's name is 1 to 64 letters, digits and - _ .");
    std::vector<std::string> scopes;
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (args[i] != "read" && args[i] != "demands") {
        return failure(fmt::format("unknown scope {}; expected read or demands", args[i]));
      }
      if (std::find(scopes.begin(), scopes.end(), args[i]) == scopes.end()) scopes.push_back(args[i]);
    }
    const std::string token = new_api_token();
    if (!api.add_token({name, api_token_hash(token), scopes, now})) {
      return failure(fmt::format("a token named {} exists (revoked names are not reused)", name));
    }
    std::string joined;
    for (const auto& scope : scopes) joined += (joined.empty() ? "" : ",") + scope;
    api.audit({now, "topupctl", "token add", fmt::format("{} scopes={}", name, joined)});
    spdlog::info("API token added name={} scopes={}", field(name), joined);
    return fmt::format("{{\"ok\":true,\"name\":{},\"token\":{}}}", json_string(name), json_string(token));
  }
  if (action == "revoke" && args.size() == 2) {
    if (!api.revoke_token(args[1], now)) return failure(fmt::format("no live token is named {}", args[1]));
    api.audit({now, "topupctl", "token revoke", args[1]});
    spdlog::info("API token revoked name={}", field(args[1]));
    return fmt::format("{{\"ok\":true,\"message\":{}}}",
                       json_string(fmt::format("token {} revoked: it opens nothing from now on", args[1])));
  }
  return failure("token takes: add NAME SCOPE…, list, or revoke NAME");
}

}  // namespace topupd::app
