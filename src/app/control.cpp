// Commands from topupctl, as ctl::parse reads them (control_request.hpp): status,
// history, tickets, approve, reject, pause, resume, resume-rule, silence, ack, unsilence,
// token (user and audit: control_users.cpp).
// Each answers one JSON document: {"ok":true,…} or {"ok":false,"error":"…"}.
#include <variant>

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

namespace {

std::string failure(const std::string& message) { return control_failure(message); }

}  // namespace

std::string Daemon::control(const std::string& request) {
  const ctl::Parsed parsed = ctl::parse(request);
  if (!parsed.request) return failure(parsed.refused);
  try {
    return std::visit([this](const auto& r) { return answer(r); }, *parsed.request);
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("control");
    return failure(std::string("the store failed: ") + e.what());
  }
}

std::string Daemon::answer(const ctl::Status&) {
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

std::string Daemon::answer(const ctl::ResumeRule& r) {
  if (auto refused = suspensions_->resume(r.rule, "with topupctl")) return failure(*refused);
  audit("topupctl", "resume-rule", r.rule);
  return fmt::format("{{\"ok\":true,\"message\":{}}}",
                     json_string(fmt::format("rule {} resumed: it may top up again", r.rule)));
}

std::string Daemon::answer(const ctl::History& h) {
  std::string out;
  std::size_t count = 0;
  for (const auto& record : store_->top_ups_created_since(h.since)) {
    if (h.account && record.account != *h.account) continue;
    if (h.rule && record.rule != *h.rule) continue;
    if (h.state && record.state != *h.state) continue;
    out += (out.empty() ? "" : ",") + json_of(record);
    ++count;
  }
  return fmt::format("{{\"ok\":true,\"count\":{},\"top_ups\":[{}]}}", count, out);
}

std::string Daemon::answer(const ctl::Tickets&) {
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

std::string Daemon::answer(const ctl::Decide& d) {
  const std::string& key = d.key;
  const bool approve = d.approve;
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

std::string Daemon::answer(const ctl::Pause& p) {
  set_paused(p.pause, "topupctl");
  return fmt::format("{{\"ok\":true,\"paused\":{}}}", p.pause ? "true" : "false");
}

void Daemon::set_paused(bool pause, const std::string& who) {
  store_->set_setting("paused", pause ? "yes" : "no");
  executor_->set_paused(pause);
  metrics_.set_paused(pause);
  audit(who, pause ? "pause" : "resume", "");
  spdlog::warn("{} by {}: {}", pause ? "paused" : "resumed", field(who),
               pause ? "no top-up will start until resumed; monitoring and alerts go on" : "top-ups may start again");
}

std::string Daemon::answer(const ctl::Silence& s) {
  const auto kind = s.ack ? adapters::SilenceKind::ack : adapters::SilenceKind::silence;
  if (auto refused = silence(kind, s.target, s.duration, s.reason, "topupctl")) return failure(*refused);
  const auto until = clock_.now() + *core::parse_duration(s.duration).value;
  return fmt::format("{{\"ok\":true,\"message\":{}}}",
                     json_string(fmt::format("{} {} until {}", s.ack ? "acknowledged" : "silenced", s.target,
                                             core::format_rfc3339(until))));
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

std::string Daemon::answer(const ctl::Unsilence& u) {
  if (!unsilence(u.target, "topupctl")) return failure(fmt::format("nothing silences or acknowledges '{}'", u.target));
  return fmt::format("{{\"ok\":true,\"message\":{}}}", json_string("notifications for " + u.target + " resumed"));
}

bool Daemon::unsilence(const std::string& target, const std::string& who) {
  if (!alerts_->unsilence(target)) return false;
  audit(who, "unsilence", target);
  spdlog::info("silence lifted by {}: {}", field(who), field(target));
  return true;
}

// The API's bearer tokens (api.hpp): made here, shown once, kept as a hash; every
// change audited like an API call.
std::string Daemon::answer(const ctl::TokenList&) {
  std::string out;
  for (const auto& token : store_->api().tokens()) {
    std::string scopes;
    for (const auto& scope : token.scopes) scopes += (scopes.empty() ? "" : ",") + json_string(scope);
    out += fmt::format("{}{{\"name\":{},\"scopes\":[{}],\"created_at\":{},\"last_used_at\":{},\"revoked_at\":{}}}",
                       out.empty() ? "" : ",", json_string(token.name), scopes,
                       json_string(core::format_rfc3339(token.created_at)), optional_time(token.last_used_at),
                       optional_time(token.revoked_at));
  }
  return fmt::format("{{\"ok\":true,\"tokens\":[{}]}}", out);
}

std::string Daemon::answer(const ctl::TokenAdd& t) {
  adapters::ApiStore& api = store_->api();
  const core::Timestamp now = clock_.now();
  const std::string token = new_api_token();
  if (!api.add_token({t.name, api_token_hash(token), t.scopes, now})) {
    return failure(fmt::format("a token named {} exists (revoked names are not reused)", t.name));
  }
  std::string joined;
  for (const auto& scope : t.scopes) joined += (joined.empty() ? "" : ",") + scope;
  api.audit({now, "topupctl", "token add", fmt::format("{} scopes={}", t.name, joined)});
  spdlog::info("API token added name={} scopes={}", field(t.name), joined);
  return fmt::format("{{\"ok\":true,\"name\":{},\"token\":{}}}", json_string(t.name), json_string(token));
}

std::string Daemon::answer(const ctl::TokenRevoke& t) {
  adapters::ApiStore& api = store_->api();
  const core::Timestamp now = clock_.now();
  if (!api.revoke_token(t.name, now)) return failure(fmt::format("no live token is named {}", t.name));
  api.audit({now, "topupctl", "token revoke", t.name});
  spdlog::info("API token revoked name={}", field(t.name));
  return fmt::format("{{\"ok\":true,\"message\":{}}}",
                     json_string(fmt::format("token {} revoked: it opens nothing from now on", t.name)));
}

}  // namespace topupd::app
