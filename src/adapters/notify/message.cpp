#include "topupd/adapters/notify/message.hpp"

#include <fmt/format.h>

#include "topupd/adapters/json.hpp"

namespace topupd::adapters::notify {
namespace {

using json::Value;

std::string runway_text(core::Duration runway) {
  return core::format_duration(std::chrono::floor<std::chrono::seconds>(runway));
}

Value money_json(const core::Money& m) {
  return Value::object()
      .set("minor", Value::number(static_cast<long long>(m.minor())))
      .set("currency", Value::string(std::string(m.currency().code())));
}

std::optional<core::Money> money_from(const Value* v) {
  if (!v || !v->is_object()) return std::nullopt;
  const Value* minor = v->find("minor");
  const auto code = v->string_at("currency");
  if (!minor || !minor->is_number() || !code) return std::nullopt;
  const auto currency = core::Currency::find(*code);
  if (!currency) return std::nullopt;
  try {
    return core::Money(std::stoll(minor->text()), *currency);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

long long millis(core::Timestamp at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

core::Timestamp from_millis(const Value* v) {
  if (!v || !v->is_number()) return core::Timestamp{};
  try {
    return core::Timestamp(std::chrono::milliseconds(std::stoll(v->text())));
  } catch (const std::exception&) {
    return core::Timestamp{};
  }
}

}  // namespace

std::string format_amount(const core::Money& money, const std::string& locale) {
  return locale == "id-ID" ? core::format_id_id(money) : core::format_human(money);
}

const char* status_word(core::DecisionKind kind) {
  switch (kind) {
    case core::DecisionKind::alert_resolved: return "RESOLVED";
    case core::DecisionKind::alert_repeat: return "STILL FIRING";
    default: return "FIRING";
  }
}

std::string headline(const Notification& n) {
  if (!n.alert.empty()) {
    return fmt::format("[{}] {} of {} on {} ({})", status_word(n.kind), n.alert, n.rule, n.account, n.severity);
  }
  return fmt::format("[{}] {} on {} ({})", status_word(n.kind), n.rule, n.account, n.severity);
}

std::map<std::string, std::string> template_fields(const Notification& n, const Presentation& p) {
  std::map<std::string, std::string> f;
  f["status"] = status_word(n.kind);
  f["rule"] = n.rule;
  f["alert"] = n.alert.empty() ? n.rule : n.alert;
  f["account"] = n.account;
  f["severity"] = n.severity;
  f["reason"] = n.reason;
  f["balance"] = n.balance ? format_amount(*n.balance, p.locale) : "";
  f["threshold"] = n.threshold ? format_amount(*n.threshold, p.locale) : "";
  f["runway"] = n.runway ? runway_text(*n.runway) : "";
  f["action"] = n.action;
  f["topup_id"] = n.top_up ? n.top_up->key : "";
  f["topup_amount"] = n.top_up ? format_amount(n.top_up->amount, p.locale) : "";
  f["topup_method"] = n.top_up ? n.top_up->method : "";
  f["topup_state"] = n.top_up ? n.top_up->state : "";
  f["approval"] = n.top_up && n.top_up->needs_approval ? "needed" : "";
  f["approve_url"] = n.top_up ? n.top_up->approve_url : "";
  f["at"] = core::format_rfc3339(n.at);
  f["fired_at"] = core::format_rfc3339(n.fired_at);
  f["dashboard_url"] = p.dashboard_url;
  f["runbook_url"] = p.runbook_url;
  f["qris"] = n.qr;
  return f;
}

std::string render(std::string_view text, const std::map<std::string, std::string>& fields, bool json) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find("{{", pos);
    const auto close = open == std::string_view::npos ? open : text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    std::string name(text.substr(open + 2, close - open - 2));
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    const auto it = fields.find(name);
    const std::string value = it == fields.end() ? "" : it->second;
    out += json ? json_string(value) : value;
    pos = close + 2;
  }
  return out;
}

std::string message_text(const Notification& n, const Presentation& p) {
  auto fields = template_fields(n, p);
  if (!p.text_template.empty()) return render(p.text_template, fields, false);
  std::string out = headline(n) + "\n" + n.reason;
  if (n.balance) out += "\nBalance: " + fields["balance"];
  if (n.threshold) out += "\nThreshold: " + fields["threshold"];
  if (n.runway) out += "\nRunway: " + fields["runway"];
  if (n.top_up) {
    out += fmt::format("\nAction: {} {} of {}, {}{}", n.top_up->method, n.top_up->key, fields["topup_amount"],
                       n.top_up->state, n.top_up->needs_approval ? " (approval needed: topupctl approve KEY)" : "");
    if (!n.top_up->approve_url.empty()) out += "\nApprove or reject: " + n.top_up->approve_url;
  } else if (!n.action.empty()) {
    out += "\nAction: " + n.action;
  }
  if (!n.qr.empty()) out += "\nQRIS: " + n.qr;
  if (!p.dashboard_url.empty()) out += "\nDashboard: " + p.dashboard_url;
  if (!p.runbook_url.empty()) out += "\nRunbook: " + p.runbook_url;
  return out;
}

std::string batch_text(std::span<const Notification> batch, const Presentation& p) {
  std::string out;
  for (const auto& n : batch) out += (out.empty() ? "" : "\n\n") + message_text(n, p);
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string to_json(const Notification& n) {
  Value v = Value::object();
  v.set("kind", Value::string(std::string(core::to_string(n.kind))));
  v.set("rule", Value::string(n.rule)).set("account", Value::string(n.account));
  if (!n.alert.empty()) v.set("alert", Value::string(n.alert));
  v.set("severity", Value::string(n.severity)).set("reason", Value::string(n.reason));
  if (n.balance) v.set("balance", money_json(*n.balance));
  if (n.threshold) v.set("threshold", money_json(*n.threshold));
  if (n.runway) {
    v.set("runway_ms", Value::number(static_cast<long long>(
                           std::chrono::duration_cast<std::chrono::milliseconds>(*n.runway).count())));
  }
  v.set("action", Value::string(n.action));
  if (n.top_up) {
    v.set("top_up", Value::object()
                        .set("key", Value::string(n.top_up->key))
                        .set("amount", money_json(n.top_up->amount))
                        .set("method", Value::string(n.top_up->method))
                        .set("state", Value::string(n.top_up->state))
                        .set("needs_approval", Value::boolean(n.top_up->needs_approval))
                        .set("reference", Value::string(n.top_up->reference))
                        .set("approve_url", Value::string(n.top_up->approve_url)));
  }
  if (!n.event.empty()) v.set("event", Value::string(n.event));
  if (!n.qr.empty()) v.set("qr", Value::string(n.qr));
  v.set("at_ms", Value::number(millis(n.at))).set("fired_at_ms", Value::number(millis(n.fired_at)));
  return v.serialize();
}

std::optional<Notification> notification_from_json(std::string_view text) {
  auto v = json::parse(text);
  if (!v || !v->is_object()) return std::nullopt;
  Notification n;
  const std::string kind = v->string_at("kind").value_or("");
  if (kind == core::to_string(core::DecisionKind::alert_firing)) n.kind = core::DecisionKind::alert_firing;
  else if (kind == core::to_string(core::DecisionKind::alert_repeat)) n.kind = core::DecisionKind::alert_repeat;
  else if (kind == core::to_string(core::DecisionKind::alert_resolved)) n.kind = core::DecisionKind::alert_resolved;
  else return std::nullopt;
  n.rule = v->string_at("rule").value_or("");
  n.alert = v->string_at("alert").value_or("");
  n.account = v->string_at("account").value_or("");
  n.severity = v->string_at("severity").value_or("");
  n.reason = v->string_at("reason").value_or("");
  n.balance = money_from(v->find("balance"));
  n.threshold = money_from(v->find("threshold"));
  if (const Value* runway = v->find("runway_ms"); runway && runway->is_number()) {
    try {
      n.runway = std::chrono::milliseconds(std::stoll(runway->text()));
    } catch (const std::exception&) {
      return std::nullopt;  // not what this version wrote
    }
  }
  n.action = v->string_at("action").value_or("");
  if (const Value* t = v->find("top_up"); t && t->is_object()) {
    if (auto amount = money_from(t->find("amount"))) {
      const Value* approval = t->find("needs_approval");
      n.top_up = TopUpSummary{t->string_at("key").value_or(""), *amount, t->string_at("method").value_or(""),
                              t->string_at("state").value_or(""), approval && approval->as_bool(),
                              t->string_at("reference").value_or(""), t->string_at("approve_url").value_or("")};
    }
  }
  n.event = v->string_at("event").value_or("");
  n.qr = v->string_at("qr").value_or("");
  n.at = from_millis(v->find("at_ms"));
  n.fired_at = from_millis(v->find("fired_at_ms"));
  return n;
}

}  // namespace topupd::adapters::notify
