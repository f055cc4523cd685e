#include "topupd/adapters/qr/qr_image.hpp"
#include "topupd/adapters/notify/http_notifiers.hpp"

#include <charconv>
#include <map>

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http_client.hpp"
#include "topupd/adapters/notify/email_notifier.hpp"
#include "topupd/adapters/notify/events.hpp"
#include "topupd/adapters/notify/log_notifier.hpp"
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

// Classifies an HTTP answer: 2xx delivered; 408, 429 and 5xx are worth retrying
// (honouring Retry-After); any other 4xx is refused for good.
DeliveryResult classify(const core::Result<net::Response, net::Failure>& result, std::string_view what,
                        core::Timestamp now) {
  if (!result) return DeliveryResult::retry(fmt::format("{}: {}", what, result.error().message));
  const int status = result->status;
  if (status >= 200 && status < 300) return DeliveryResult::delivered();
  std::string body = result->body.substr(0, 200);
  for (auto& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  const std::string why = fmt::format("{} answered HTTP {}: {}", what, status, body);
  if (status == 408 || status == 429 || status >= 500) {
    std::optional<core::Duration> after;
    if (auto header = result->header("Retry-After")) after = net::parse_retry_after(*header, now);
    if (!after && status == 429) {
      // Telegram says it in the body: {"parameters":{"retry_after":N}}
      if (auto parsed = json::parse(result->body)) {
        // A remote value: anything but a plain, sane whole number is ignored.
        const Value* seconds = parsed->at_pointer("/parameters/retry_after");
        long long n = 0;
        if (seconds && seconds->is_number()) {
          const std::string& text = seconds->text();
          const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
          if (error == std::errc() && end == text.data() + text.size() && n >= 0 && n <= 86'400) {
            after = std::chrono::seconds(n);
          }
        }
      }
    }
    return DeliveryResult::retry(why, after);
  }
  return DeliveryResult::rejected(why);
}

class HttpNotifier : public Notifier {
 public:
  HttpNotifier(config::NotifierConfig config, boost::asio::any_io_executor executor, const core::Clock& clock,
               core::Random& random, int default_rate)
      : config_(std::move(config)), clock_(clock), client_(executor, options(config_, default_rate), clock, random) {}

 protected:
  static net::ClientOptions options(const config::NotifierConfig& c, int default_rate) {
    net::ClientOptions o;
    o.name = "notifier " + c.name;
    o.request_timeout = c.timeout;
    o.ca_file = c.ca_file;
    o.proxy = c.proxy;
    o.max_attempts = 1;  // the outbox retries, with its own backoff
    o.rate_per_second = c.rate_per_second > 0 ? c.rate_per_second : default_rate;
    o.concurrency = 4;
    o.breaker_failures = 1'000'000;  // the outbox backs off; a breaker would only hide the cause
    return o;
  }

  boost::asio::awaitable<DeliveryResult> post(std::string url, net::Headers headers, std::string body,
                                              std::string what, std::string content_type = "application/json") {
    net::Request request;
    request.method = "POST";
    request.url = std::move(url);
    request.headers = std::move(headers);
    request.headers.emplace_back("Content-Type", std::move(content_type));
    request.body = std::move(body);
    request.idempotent = false;
    auto result = co_await client_.send(std::move(request));
    co_return classify(result, what, clock_.now());
  }

  config::NotifierConfig config_;
  const core::Clock& clock_;
  net::Client client_;
};

class SlackNotifier final : public HttpNotifier {
 public:
  using HttpNotifier::HttpNotifier;
  boost::asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) override {
    auto pending = post(config_.url, {}, slack_payload(batch, config_), "Slack");
    co_return co_await std::move(pending);
  }
};

class TelegramNotifier final : public HttpNotifier {
 public:
  using HttpNotifier::HttpNotifier;
  boost::asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) override {
    // The token is part of the path; failures name only the origin, never the URL.
    std::string base = config_.api_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    auto pending = post(base + "/bot" + config_.bot_token + "/sendMessage", {}, telegram_payload(batch, config_),
                        "Telegram");
    DeliveryResult result = co_await std::move(pending);
    // A QRIS code to pay follows as a photo (sendPhoto), its string as the caption. A
    // failure sends the batch again: the chat may see a message twice, never miss one.
    for (const auto& n : batch) {
      if (result.kind != DeliveryResult::Kind::delivered || n.qr.empty()) continue;
      const auto image = qr::png(n.qr);
      if (!image) continue;
      const std::string boundary = "topupd-" + crypto::hex(crypto::sha256(n.qr)).substr(0, 24);
      auto photo = post(base + "/bot" + config_.bot_token + "/sendPhoto", {},
                        telegram_photo(config_.chat_id, n.qr, *image, boundary), "Telegram",
                        "multipart/form-data; boundary=" + boundary);
      result = co_await std::move(photo);
    }
    co_return result;
  }
};

class WebhookNotifier final : public HttpNotifier {
 public:
  using HttpNotifier::HttpNotifier;
  boost::asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) override {
    std::string body = webhook_payload(batch, config_);
    net::Headers headers;
    if (!config_.secret.empty()) {
      const std::string t = std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count());
      headers.emplace_back("X-Topupd-Timestamp", t);
      headers.emplace_back("X-Topupd-Signature", "sha512=" + crypto::hex(crypto::hmac_sha512(config_.secret, t + "." + body)));
    }
    auto pending = post(config_.url, std::move(headers), std::move(body), "webhook");
    co_return co_await std::move(pending);
  }
};

// A backend's event subscription: each event POSTed alone, signed by the Standard
// Webhooks convention, under an id every retry repeats (notify/events.hpp).
class EventNotifier final : public HttpNotifier {
 public:
  using HttpNotifier::HttpNotifier;
  boost::asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) override {
    for (const auto& event : batch) {
      const std::string id = notify::event_id(event);
      const std::string body = notify::event_body(event);
      const std::string t = std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count());
      const auto signature = notify::standard_webhooks_signature(config_.secret, id, t, body);
      if (!signature) co_return DeliveryResult::rejected("the subscription's secret is not a whsec_ key");
      net::Headers headers{{"webhook-id", id}, {"webhook-timestamp", t}, {"webhook-signature", *signature}};
      auto pending = post(config_.url, std::move(headers), body, "events");
      const DeliveryResult result = co_await std::move(pending);
      // Those before it went out and go again with the batch: the receiver drops repeats by id.
      if (result.kind != DeliveryResult::Kind::delivered) co_return result;
    }
    co_return DeliveryResult::delivered();
  }
  // Events are for machines: silences, which spare people, do not hold them back.
  bool hears_every_change() const override { return true; }
};

class AlertmanagerNotifier final : public HttpNotifier {
 public:
  using HttpNotifier::HttpNotifier;

  boost::asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) override {
    const auto now = clock_.now();
    for (const auto& n : batch) {
      const std::string id = n.rule + "\n" + n.account;
      if (n.kind == core::DecisionKind::alert_resolved) {
        resolved_[id] = n;
        active_.erase(id);
      } else {
        active_[id] = n;
        resolved_.erase(id);
      }
    }
    std::vector<Notification> alerts(batch.begin(), batch.end());
    auto pending = post_everywhere(alertmanager_payload(alerts, config_, now));
    co_return co_await std::move(pending);
  }

  core::Duration resend_every() const override { return config_.resend; }
  bool hears_every_change() const override { return true; }

  boost::asio::awaitable<void> resend() override {
    const auto now = clock_.now();
    std::vector<Notification> alerts;
    for (const auto& [id, n] : active_) alerts.push_back(n);
    for (auto it = resolved_.begin(); it != resolved_.end();) {
      if (now - it->second.at > std::chrono::minutes(15)) {
        it = resolved_.erase(it);
      } else {
        alerts.push_back(it->second);
        ++it;
      }
    }
    if (alerts.empty()) co_return;
    auto pending = post_everywhere(alertmanager_payload(alerts, config_, now));
    (void)co_await std::move(pending);  // the next resend tries again
  }

 private:
  // Every instance gets every alert. Retried while any instance could not take them
  // (the others de-duplicate by labels); refused only when every instance refused.
  boost::asio::awaitable<DeliveryResult> post_everywhere(std::string body) {
    DeliveryResult worst = DeliveryResult::delivered();
    int refused = 0;
    for (const auto& base : config_.urls) {
      std::string url = base;
      while (!url.empty() && url.back() == '/') url.pop_back();
      auto pending = post(url + "/api/v2/alerts", {}, body, "Alertmanager " + base);
      DeliveryResult result = co_await std::move(pending);
      if (result.kind == DeliveryResult::Kind::rejected) ++refused;
      if (result.kind == DeliveryResult::Kind::retry) worst = result;
      else if (result.kind == DeliveryResult::Kind::rejected && worst.kind == DeliveryResult::Kind::delivered) worst = result;
    }
    if (worst.kind == DeliveryResult::Kind::rejected && refused < static_cast<int>(config_.urls.size())) {
      worst.kind = DeliveryResult::Kind::delivered;  // at least one instance has them
    }
    co_return worst;
  }

  std::map<std::string, Notification> active_;
  std::map<std::string, Notification> resolved_;
};

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
    if (!p.dashboard_url.empty()) links += "<" + p.dashboard_url + "|Dashboard>";
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

std::shared_ptr<Notifier> make_notifier(const config::NotifierConfig& config, boost::asio::any_io_executor executor,
                                        const core::Clock& clock, core::Random& random) {
  using config::NotifierType;
  switch (config.type.value_or(NotifierType::log)) {
    case NotifierType::slack: return std::make_shared<SlackNotifier>(config, executor, clock, random, 1);
    case NotifierType::telegram: return std::make_shared<TelegramNotifier>(config, executor, clock, random, 1);
    case NotifierType::webhook: return std::make_shared<WebhookNotifier>(config, executor, clock, random, 10);
    case NotifierType::alertmanager: return std::make_shared<AlertmanagerNotifier>(config, executor, clock, random, 10);
    case NotifierType::email: return make_email_notifier(config, clock, random);
    case NotifierType::events: return std::make_shared<EventNotifier>(config, executor, clock, random, 10);
    case NotifierType::log: break;
  }
  return std::make_shared<LogNotifier>(config.name);
}

}  // namespace topupd::adapters
