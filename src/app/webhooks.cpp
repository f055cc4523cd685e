// The webhook receiver in the daemon: the HTTP(S) server, the batched store write of
// event ids, and what an accepted event does.
//
// A webhook is a hint, never the truth about money: an accepted event makes topupd
// look its top-up up at the gateway and poll the account at once, and the journal
// moves on what the gateway's own API answers. So a forged event (with a leaked
// secret) cannot mark a top-up failed and cause a second one, and an event lost to a
// crash between its store write and its effect costs only time: the next regular
// poll reconciles the same top-up.
#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/providers/http_providers.hpp"
#include "topupd/adapters/sys/crash_points.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
namespace webhooks = adapters::webhooks;

// One event id waiting for the store. Lives in its coroutine's frame until the flush
// that writes it wakes the coroutine.
struct Daemon::InboxEntry {
  adapters::WebhookEventRecord record;
  asio::steady_timer done;
  bool fresh = false;
  bool failed = false;
};

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
    endpoint.type = provider.type;
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

void Daemon::apply_webhook_server(const config::Config& config) {
  auto routes = std::make_shared<const webhooks::Routes>(routes_of(config));
  if (!config.webhooks.enabled) {
    if (webhook_server_) {
      spdlog::info("webhook receiver stopped address={}", webhook_address_);
      webhook_server_->stop();
      webhook_server_.reset();
    }
    webhook_routes_ = std::move(routes);
    return;
  }
  if (webhook_server_ && !same_server(config.webhooks, webhook_server_config_)) {
    spdlog::warn("webhooks.listen, tls, max_body, timeout or max_connections changed; the receiver keeps its "
                 "socket until restart address={} (endpoints, secrets and allow-lists are reloaded)",
                 webhook_address_);
  }
  if (!webhook_server_) {
    adapters::net::ServerOptions options;
    options.tls_cert_file = config.webhooks.tls_cert;
    options.tls_key_file = config.webhooks.tls_key;
    options.max_body_bytes = config.webhooks.max_body;
    options.request_timeout = config.webhooks.timeout;
    options.max_connections = config.webhooks.max_connections;
    options.on_too_large = [this](const adapters::net::ServerRequest& request) {
      const auto delivery = webhooks::too_large(*webhook_routes_, request.path);
      metrics_.count_webhook(delivery.endpoint ? delivery.endpoint->provider : "-",
                             webhooks::to_string(delivery.outcome));
      spdlog::warn("webhook refused: body over webhooks.max_body path={} client={}", field(request.path),
                   request.remote_address);
      return webhooks::answer(delivery);
    };
    auto server = std::make_unique<adapters::net::Server>(
        io_, std::move(options),
        adapters::net::AsyncHandler([this](adapters::net::ServerRequest request) {
          return receive_webhook(std::move(request));
        }));
    // Throws when the address cannot be bound or the TLS files are unusable: the
    // caller rejects the configuration before anything else changed.
    webhook_address_ = server->listen(config.webhooks.host, config.webhooks.port);
    webhook_server_ = std::move(server);
    webhook_server_config_ = config.webhooks;
    std::string paths;
    for (const auto& endpoint : routes->endpoints) paths += (paths.empty() ? "/webhooks/" : ", /webhooks/") + endpoint.provider;
    spdlog::info("receiving webhooks address={} tls={} paths={}", webhook_address_,
                 config.webhooks.tls_cert.empty() ? "off" : "on", field(paths));
  }
  webhook_routes_ = std::move(routes);
}

asio::awaitable<adapters::net::ServerResponse> Daemon::receive_webhook(adapters::net::ServerRequest request) {
  // Kept alive for this request even if a reload replaces the routes meanwhile.
  const std::shared_ptr<const webhooks::Routes> routes = webhook_routes_;
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
  adapters::WebhookEventRecord record{provider, delivery.event.id, delivery.event.type, clock_.now()};
  const std::optional<bool> fresh = co_await remember_webhook(std::move(record));
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
  asio::post(io_, [this, provider, event = delivery.event] { apply_webhook(provider, event); });
  co_return webhooks::answer(delivery);
}

asio::awaitable<std::optional<bool>> Daemon::remember_webhook(adapters::WebhookEventRecord record) {
  InboxEntry entry{std::move(record), asio::steady_timer(io_, asio::steady_timer::time_point::max())};
  webhook_inbox_.push_back(&entry);
  if (!webhook_flush_posted_) {
    // Every delivery that is ready before the flush runs shares its one durable write.
    webhook_flush_posted_ = true;
    asio::post(io_, [this] { flush_webhook_inbox(); });
  }
  auto [cancelled] = co_await entry.done.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)cancelled;  // the flush cancels the wait when the write is done
  if (entry.failed) co_return std::nullopt;
  co_return entry.fresh;
}

void Daemon::flush_webhook_inbox() {
  webhook_flush_posted_ = false;
  std::vector<InboxEntry*> batch;
  batch.swap(webhook_inbox_);
  std::vector<adapters::WebhookEventRecord> records;
  records.reserve(batch.size());
  for (const auto* entry : batch) records.push_back(entry->record);
  try {
    const auto fresh = store_->remember_webhook_events(records);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->fresh = fresh[i];
    const auto now = clock_.now();
    if (now - webhook_events_pruned_at_ >= std::chrono::hours(1)) {
      webhook_events_pruned_at_ = now;
      const auto forgotten = store_->forget_webhook_events(now - config_.webhooks.keep_events_for);
      if (forgotten > 0) spdlog::info("forgot old webhook event ids count={}", forgotten);
    }
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("webhook");
    spdlog::error("cannot record webhook events; answering 503 so the gateways send them again: {} count={}",
                  e.what(), batch.size());
    for (auto* entry : batch) entry->failed = true;
  }
  for (auto* entry : batch) entry->done.cancel();
}

void Daemon::apply_webhook(const std::string& provider, const webhooks::Event& event) {
  if (stopping_) return;
  const core::TopUpRecord* record = nullptr;
  const auto gateway = providers_.find(provider);
  for (const auto& r : executor_->journal()) {
    if (r.provider != provider) continue;
    if ((!event.key.empty() && r.key == event.key) || (!event.reference.empty() && r.reference == event.reference) ||
        (!event.partner_reference.empty() && gateway != providers_.end() &&
         gateway->second->partner_reference_names(event.partner_reference, r.key))) {
      record = &r;
      break;
    }
  }
  // The top-up's account; else the accounts the event names; else every account of
  // the provider.
  const auto named_by_event = [&](const AccountRuntime& account) {
    return account.config.provider == provider && account.config.id == event.account;
  };
  const bool named = !record && !event.account.empty() &&
                     std::any_of(poller_->accounts().begin(), poller_->accounts().end(),
                                 [&](const auto& entry) { return named_by_event(*entry.second); });
  std::string woken;
  for (const auto& [name, account] : poller_->accounts()) {
    const bool concerned = record  ? account->config.name == record->account
                           : named ? named_by_event(*account)
                                   : account->config.provider == provider;
    if (!concerned) continue;
    poller_->wake(name);
    woken += (woken.empty() ? "" : ",") + name;
  }
  if (record && !core::is_terminal(record->state)) executor_->hint(record->key, event.id);
  spdlog::info("webhook accepted provider={} event={} type={} topup={} status={} polling={}", provider,
               field(event.id), field(event.type), record ? field(record->key) : "-",
               event.status.empty() ? "-" : event.status, woken.empty() ? "-" : woken);
}

}  // namespace topupd::app
