// Webhook intake: see webhook_intake.hpp.
#include "webhook_intake.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/crash_points.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
namespace webhooks = adapters::webhooks;

struct WebhookIntake::InboxEntry {
  adapters::WebhookEventRecord record;
  asio::steady_timer done;
  bool fresh = false;
  bool failed = false;
  bool answered = false;  // the write is done: nothing more to wait for
};

WebhookIntake::WebhookIntake(asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics,
                             adapters::StoreWriter& writer, Accepted accepted)
    : io_(io), clock_(clock), metrics_(metrics), writer_(writer),
      accepted_(std::move(accepted)) {}

void WebhookIntake::stop() {
  if (server_) server_->stop();
}

namespace {

webhooks::Routes routes_of(const config::Config& config) {
  webhooks::Routes routes;
  routes.allow_from = config.webhooks.allow_from;
  routes.trusted_proxies = config.webhooks.trusted_proxies;
  routes.snap_prefix = config.webhooks.snap_prefix;
  for (const auto& provider : config.providers) {
    if (!provider.webhook.enabled) continue;
    webhooks::Endpoint endpoint;
    endpoint.provider = provider.name;
    if (!provider.type) continue;  // a loaded config always names one
    endpoint.type = *provider.type;
    endpoint.secret = provider.webhook.secret;
    endpoint.tolerance = provider.webhook.tolerance;
    endpoint.generic.header = provider.webhook.header;
    endpoint.generic.base64 = provider.webhook.encoding == "base64";
    endpoint.generic.timestamp_header = provider.webhook.timestamp_header;
    endpoint.event_id_pointer = provider.webhook.event_id;
    endpoint.allow_from = provider.webhook.allow_from;
    routes.endpoints.push_back(std::move(endpoint));
  }
  return routes;
}

// The settings only a new listening socket can change.
bool same_server(const config::WebhooksConfig& a, const config::WebhooksConfig& b) {
  return a.host == b.host && a.port == b.port && a.tls_cert == b.tls_cert && a.tls_key == b.tls_key &&
         a.max_body == b.max_body && a.timeout == b.timeout && a.max_connections == b.max_connections;
}

}  // namespace

void WebhookIntake::configure(const config::Config& config) {
  keep_events_for_ = config.webhooks.keep_events_for;
  auto routes = std::make_shared<const webhooks::Routes>(routes_of(config));
  if (!config.webhooks.enabled) {
    if (server_) {
      spdlog::info("webhook receiver stopped address={}", address_);
      server_->stop();
      server_.reset();
    }
    routes_ = std::move(routes);
    metrics_.set_webhook_providers(false, {});
    return;
  }
  if (server_ && !same_server(config.webhooks, server_config_)) {
    spdlog::warn("webhooks.listen, tls, max_body, timeout or max_connections changed; the receiver keeps its "
                 "socket until restart address={} (endpoints, secrets and allow-lists are reloaded)",
                 address_);
  }
  if (!server_) {
    adapters::net::ServerOptions options;
    options.tls_cert_file = config.webhooks.tls_cert;
    options.tls_key_file = config.webhooks.tls_key;
    options.max_body_bytes = config.webhooks.max_body;
    options.request_timeout = config.webhooks.timeout;
    options.max_connections = config.webhooks.max_connections;
    options.on_too_large = [this](const adapters::net::ServerRequest& request) {
      const auto delivery = webhooks::too_large(*routes_, request.path);
      metrics_.count_webhook(delivery.endpoint ? delivery.endpoint->provider : "-",
                             webhooks::to_string(delivery.outcome));
      spdlog::warn("webhook refused: body over webhooks.max_body path={} client={}", field(request.path),
                   request.remote_address);
      return webhooks::answer(delivery);
    };
    auto server = std::make_unique<adapters::net::Server>(
        io_, std::move(options),
        adapters::net::AsyncHandler([this](adapters::net::ServerRequest request) {
          return receive(std::move(request));
        }));
    // Throws when the address cannot be bound or the TLS files are unusable: the
    // caller rejects the configuration before anything else changed.
    address_ = server->listen(config.webhooks.host, config.webhooks.port);
    server_ = std::move(server);
    server_config_ = config.webhooks;
    std::string paths;
    for (const auto& endpoint : routes->endpoints) paths += (paths.empty() ? "/webhooks/" : ", /webhooks/") + endpoint.provider;
    spdlog::info("receiving webhooks address={} tls={} paths={}", address_,
                 config.webhooks.tls_cert.empty() ? "off" : "on", field(paths));
  }
  std::vector<std::string> providers;
  for (const auto& endpoint : routes->endpoints) providers.push_back(endpoint.provider);
  metrics_.set_webhook_providers(true, providers);
  routes_ = std::move(routes);
}

asio::awaitable<adapters::net::ServerResponse> WebhookIntake::receive(adapters::net::ServerRequest request) {
  // Kept alive for this request even if a reload replaces the routes meanwhile.
  const std::shared_ptr<const webhooks::Routes> routes = routes_;
  auto delivery = webhooks::check_delivery(*routes, request, clock_.now());
  const std::string provider = delivery.endpoint ? delivery.endpoint->provider : "-";
  if (delivery.outcome != webhooks::Outcome::accepted) {
    metrics_.count_webhook(provider, webhooks::to_string(delivery.outcome));
    const auto level = delivery.outcome == webhooks::Outcome::not_found ? spdlog::level::debug : spdlog::level::warn;
    spdlog::log(level, "webhook refused: {} provider={} outcome={} client={} path={}", delivery.detail, provider,
                webhooks::to_string(delivery.outcome), request.remote_address, field(request.path));
    co_return webhooks::answer(delivery);
  }
  // Durable before the answer: a sender that hears 200 never needs to send it again,
  // and one that does not hear it redelivers into the duplicate check.
  adapters::WebhookEventRecord record{provider, delivery.event.id, delivery.event.type, clock_.now(),
                                     shared_ ? webhooks::event_to_json(delivery.event) : std::string()};
  const std::optional<bool> fresh = co_await remember(std::move(record));
  if (!fresh) {
    adapters::net::ServerResponse unavailable =
        adapters::net::ServerResponse::json(503, R"({"error":"cannot record the event; send it again"})");
    unavailable.headers.emplace_back("Retry-After", "5");
    co_return unavailable;
  }
  if (!*fresh) {
    metrics_.count_webhook(provider, webhooks::to_string(webhooks::Outcome::duplicate));
    spdlog::info("webhook duplicate: already received, nothing to do provider={} event={}", provider,
                 field(delivery.event.id));
    co_return webhooks::answer(webhooks::duplicate_of(std::move(delivery)));
  }
  metrics_.count_webhook(provider, webhooks::to_string(webhooks::Outcome::accepted));
  adapters::crash_point("webhook.after_persist");
  if (!shared_) asio::post(io_, [this, provider, event = delivery.event] { accepted_(provider, event); });
  co_return webhooks::answer(delivery);
}

asio::awaitable<std::optional<bool>> WebhookIntake::remember(adapters::WebhookEventRecord record) {
  InboxEntry entry{std::move(record), asio::steady_timer(io_, asio::steady_timer::time_point::max())};
  inbox_.push_back(&entry);
  if (!writing_) {
    // Every delivery that is ready before the write starts shares it; those that
    // arrive while it runs form the next one. Posted, not started here: co_spawn would
    // run it at once, and a write on the loop (an in-memory store) would finish before
    // this delivery waits for it.
    writing_ = true;
    asio::post(io_, [this] { asio::co_spawn(io_, write_inbox(), adapters::log_failure("webhook inbox write")); });
  }
  if (!entry.answered) {
    auto [cancelled] = co_await entry.done.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)cancelled;  // the write cancels the wait when it is done
  }
  if (entry.failed) co_return std::nullopt;
  co_return entry.fresh;
}

asio::awaitable<void> WebhookIntake::write_inbox() {
  while (!inbox_.empty()) {
    std::vector<InboxEntry*> batch;
    batch.swap(inbox_);
    std::vector<adapters::WebhookEventRecord> records;
    records.reserve(batch.size());
    for (const auto* entry : batch) records.push_back(entry->record);
    const auto now = clock_.now();
    const bool prune = now - pruned_at_ >= std::chrono::hours(1);
    if (prune) pruned_at_ = now;
    const core::Timestamp before = now - keep_events_for_;
    auto job = [records = std::move(records), prune, before](adapters::WebhookInbox& inbox) {
      auto known = inbox.remember_webhook_events(records);
      return std::pair{std::move(known), prune ? inbox.forget_webhook_events(before) : std::int64_t{0}};
    };
    bool written = false;
    try {
      // Durable when it answers (writer.hpp): a 200 never comes before the disk has the id.
      auto [fresh, forgotten] = co_await writer_.write(std::move(job));
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->fresh = fresh[i];
      if (forgotten > 0) spdlog::info("forgot old webhook event ids count={}", forgotten);
      written = true;
    } catch (const adapters::StoreError& e) {
      metrics_.count_store_error("webhook");
      spdlog::error("cannot record webhook events; answering 503 so the gateways send them again: {} count={}",
                    e.what(), batch.size());
    }
    for (auto* entry : batch) {
      entry->failed = !written;
      entry->answered = true;
      entry->done.cancel();
    }
  }
  writing_ = false;
}

}  // namespace topupd::app
