// The HTTP notifiers' wire bodies (http_notifiers.hpp): Slack's Block Kit attachments,
// Telegram's HTML message and sendPhoto form, the generic webhook's JSON and
// Alertmanager's alerts. Pure functions of the notifications and the notifier's config.
#include <fmt/format.h>

#include "topupd/adapters/json.hpp"
#include "topupd/adapters/notify/http_notifiers.hpp"
#include "topupd/adapters/notify/message.hpp"

namespace topupd::adapters {
namespace {

using json::Value;

notify::Presentation presentation_of(const config::NotifierConfig& c) {
  return {c.locale, c.dashboard_url, c.runbook_url, c.text_template};
}

// Slack's mrkdwn needs &, < and > escaped; its links are <url|text>.
std::string slack_escape(std::string_view text) { return notify::html_escape(text); }

const char* slack_colour(const Notification& n) {
  if (n.kind == core::DecisionKind::alert_resolved) return "#2eb67d";  // green
  if (n.severity == "critical") return "#d00000";
  if (n.severity == "warning") return "#e8a317";
  return "#439fe0";
}

Value slack_field(const char* name, const std::string& value) {
  return Value::object()
      .set("type", Value::string("mrkdwn"))
      .set("text", Value::string(fmt::format("*{}*\n{}", name, slack_escape(value))));
}

}  // namespace

std::string slack_payload(std::span<const Notification> batch, const config::NotifierConfig& config) {
  const auto p = presentation_of(config);
  Value attachments = Value::array();
  for (const auto& n : batch) {
    auto f = notify::template_fields(n, p);
    Value blocks = Value::array();
    blocks.push(Value::object().set("type", Value::string("header"))
                    .set("text", Value::object()
                                     .set("type", Value::string("plain_text"))
                                     .set("text", Value::string(notify::headline(n).substr(0, 150)))));
    const std::string body = p.text_template.empty() ? n.reason : notify::message_text(n, p);
    blocks.push(Value::object().set("type", Value::string("section"))
                    .set("text", Value::object().set("type", Value::string("mrkdwn"))
                                     .set("text", Value::string(slack_escape(body)))));
    Value fields = Value::array();
    if (n.balance) fields.push(slack_field("Balance", f["balance"]));
    if (n.threshold) fields.push(slack_field("Threshold", f["threshold"]));
    if (n.runway) fields.push(slack_field("Runway", f["runway"]));
    if (n.top_up) {
      fields.push(slack_field("Top-up", fmt::format("{} of {}, {} ({}){}", f["topup_method"], f["topup_amount"],
                                                    f["topup_state"], f["topup_id"],
                                                    n.top_up->needs_approval ? ", approval needed" : "")));
    } else if (!n.action.empty()) {
      fields.push(slack_field("Action", n.action));
    }
    if (!fields.items().empty()) blocks.push(Value::object().set("type", Value::string("section")).set("fields", fields));
    std::string links;
    if (n.top_up && !n.top_up->approve_url.empty()) links += "<" + n.top_up->approve_url + "|Approve or reject>";
    if (!p.dashboard_url.empty()) links += std::string(links.empty() ? "" : " · ") + "<" + p.dashboard_url + "|Dashboard>";
    if (!p.runbook_url.empty()) links += std::string(links.empty() ? "" : " · ") + "<" + p.runbook_url + "|Runbook>";
    if (!links.empty()) {
      blocks.push(Value::object().set("type", Value::string("context"))
                      .set("elements", Value::array().push(Value::object()
                                                               .set("type", Value::string("mrkdwn"))
                                                               .set("text", Value::string(links)))));
    }
    attachments.push(Value::object().set("color", Value::string(slack_colour(n))).set("blocks", blocks));
  }
  // `text` is what notifications and screen readers show.
  std::string summary = notify::headline(batch.front());
  if (batch.size() > 1) summary += fmt::format(" and {} more", batch.size() - 1);
  return Value::object().set("text", Value::string(summary)).set("attachments", attachments).serialize();
}

std::string telegram_photo(const std::string& chat_id, const std::string& caption, const std::string& png,
                           const std::string& boundary) {
  std::string body;
  const auto field = [&](const std::string& name, const std::string& value) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  };
  field("chat_id", chat_id);
  field("caption", caption.substr(0, 1024));  // Telegram's caption limit
  body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"qris.png\"\r\n"
          "Content-Type: image/png\r\n\r\n" + png + "\r\n--" + boundary + "--\r\n";
  return body;
}

std::string telegram_payload(std::span<const Notification> batch, const config::NotifierConfig& config) {
  const auto p = presentation_of(config);
  std::string text;
  for (const auto& n : batch) {
    std::string body = notify::message_text(n, p);
    const auto newline = body.find('\n');
    // The headline in bold, the rest as it is; everything escaped for HTML mode.
    std::string part = p.text_template.empty()
                           ? "<b>" + notify::html_escape(body.substr(0, newline)) + "</b>" +
                                 (newline == std::string::npos ? "" : notify::html_escape(body.substr(newline)))
                           : notify::html_escape(body);
    text += (text.empty() ? "" : "\n\n") + part;
  }
  if (text.size() > 4000) text = text.substr(0, 3990) + "\n…";  // Telegram's limit is 4096
  return Value::object()
      .set("chat_id", Value::string(config.chat_id))
      .set("text", Value::string(text))
      .set("parse_mode", Value::string("HTML"))
      .set("disable_web_page_preview", Value::boolean(true))
      .serialize();
}

std::string webhook_payload(std::span<const Notification> batch, const config::NotifierConfig& config) {
  const auto p = presentation_of(config);
  if (!config.body_template.empty()) {
    // A batch renders with the first alert's fields; `text` holds all of them.
    auto fields = notify::template_fields(batch.front(), p);
    fields["text"] = notify::batch_text(batch, p);
    return notify::render(config.body_template, fields, true);
  }
  Value alerts = Value::array();
  for (const auto& n : batch) {
    Value alert = Value::object();
    auto fields = notify::template_fields(n, p);
    fields["text"] = notify::message_text(n, p);
    for (const auto& [name, value] : fields) alert.set(name, Value::string(value));
    if (n.balance) alert.set("balance_minor", Value::number(static_cast<long long>(n.balance->minor())));
    if (n.threshold) alert.set("threshold_minor", Value::number(static_cast<long long>(n.threshold->minor())));
    if (n.balance) alert.set("currency", Value::string(std::string(n.balance->currency().code())));
    alerts.push(alert);
  }
  return Value::object().set("version", Value::number(1LL)).set("alerts", alerts).serialize();
}

std::string alertmanager_payload(std::span<const Notification> alerts, const config::NotifierConfig& config,
                                 core::Timestamp now) {
  const auto p = presentation_of(config);
  Value out = Value::array();
  for (const auto& n : alerts) {
    auto f = notify::template_fields(n, p);
    Value labels = Value::object()
                       .set("alertname", Value::string(n.alert.empty() ? n.rule : n.alert))
                       .set("rule", Value::string(n.rule))
                       .set("account", Value::string(n.account))
                       .set("severity", Value::string(n.severity))
                       .set("source", Value::string("topupd"));
    // An alert about one top-up is that top-up's: two stuck at once are two alerts.
    if (!n.alert.empty() && n.top_up) labels.set("topup_id", Value::string(n.top_up->key));
    Value annotations = Value::object()
                            .set("summary", Value::string(notify::headline(n)))
                            .set("description", Value::string(notify::message_text(n, p)));
    for (const char* name : {"balance", "threshold", "runway", "action", "topup_id", "topup_state"}) {
      if (!f[name].empty()) annotations.set(name, Value::string(f[name]));
    }
    if (!p.runbook_url.empty()) annotations.set("runbook_url", Value::string(p.runbook_url));
    const bool resolved = n.kind == core::DecisionKind::alert_resolved;
    const core::Timestamp ends = resolved ? n.at : now + 4 * config.resend;
    Value alert = Value::object()
                      .set("labels", labels)
                      .set("annotations", annotations)
                      .set("startsAt", Value::string(core::format_rfc3339(n.fired_at.time_since_epoch().count() != 0
                                                                              ? n.fired_at
                                                                              : n.at)))
                      .set("endsAt", Value::string(core::format_rfc3339(ends)));
    if (!p.dashboard_url.empty()) alert.set("generatorURL", Value::string(p.dashboard_url));
    out.push(alert);
  }
  return out.serialize();
}

}  // namespace topupd::adapters
