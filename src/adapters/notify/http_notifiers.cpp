// The HTTP notifiers (http_notifiers.hpp): Slack, Telegram, generic webhooks, the
// backend's event subscriptions and Alertmanager — how each delivers and how an answer
// is classified — and the factory of every notifier. Their bodies: payloads.cpp.
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
#include "topupd/adapters/qr/qr_image.hpp"

namespace topupd::adapters {
namespace {

using json::Value;

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

}  // namespace


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
