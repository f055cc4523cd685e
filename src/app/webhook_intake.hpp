// Webhook intake: the part of the daemon that receives gateways' webhooks.
//
// It owns the HTTP(S) receiver (started when `webhooks:` is enabled; its socket
// settings change only at a restart, its endpoints, secrets and allow-lists at every
// reload) and the inbox of event ids waiting for the store. A delivery is checked
// (adapters/webhooks: signature, sender, size, replay), its event id is written to the
// store by the store's writer thread — every delivery ready before the write shares it,
// one group commit that waits for the disk there — and only then answered; an
// accepted, new event goes to its `accepted` neighbour.
// With several instances (`share_events`) the new event goes instead into the inbox they
// share, in the same write, and the owner of its account acts on it (instances.cpp).
//
// A webhook is a hint, never the truth about money: the daemon turns an accepted event
// into a look-up of its top-up and a poll of its account, and the journal moves on
// what the gateway's own API answers. So a forged event (with a leaked secret) cannot
// mark a top-up failed and cause a second one, and an event lost to a crash between its
// store write and its effect costs only time.
//
// It may call: the store's writer (event ids), the clock, metrics, and `accepted`.
//
// Private to src/app.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/adapters/store/writer.hpp"
#include "topupd/adapters/webhooks/receiver.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::app {

namespace asio = boost::asio;

class WebhookIntake {
 public:
  // An accepted event, new to the store, of `provider`'s endpoint.
  using Accepted = std::function<void(const std::string& provider, const adapters::webhooks::Event& event)>;

  WebhookIntake(asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics,
                adapters::StoreWriter& writer, Accepted accepted);

  // A new config generation's `webhooks:` and providers' endpoints. Starts the
  // receiver when it is enabled and not yet listening (throws when the address cannot
  // be bound or the TLS files are unusable: the caller rejects the configuration),
  // stops it when disabled.
  void configure(const config::Config& config);
  void stop();
  // Several instances: new events go to the shared inbox, not to `accepted`.
  void share_events() { shared_ = true; }
  // Where the receiver listens; empty when it does not.
  std::string address() const { return server_ ? address_ : std::string(); }

 private:
  // One event id waiting for the store. Lives in its coroutine's frame until the write
  // wakes the coroutine.
  struct InboxEntry;

  asio::awaitable<adapters::net::ServerResponse> receive(adapters::net::ServerRequest request);
  // nullopt: the store failed; otherwise whether the event id is new.
  asio::awaitable<std::optional<bool>> remember(adapters::WebhookEventRecord record);
  // Writes the waiting event ids, batch after batch, until none waits.
  asio::awaitable<void> write_inbox();

  asio::io_context& io_;
  const core::Clock& clock_;
  adapters::Metrics& metrics_;
  adapters::StoreWriter& writer_;
  Accepted accepted_;
  bool shared_ = false;
  std::unique_ptr<adapters::net::Server> server_;
  config::WebhooksConfig server_config_;  // what the running receiver was started with
  core::Duration keep_events_for_{};
  std::shared_ptr<const adapters::webhooks::Routes> routes_;
  std::string address_;
  std::vector<InboxEntry*> inbox_;  // event ids waiting for the next store write
  bool writing_ = false;  // write_inbox() runs
  core::Timestamp pruned_at_{};
};

}  // namespace topupd::app
