#include "sandbox.hpp"

#include <cstdio>
#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "topupd/adapters/net/http_client.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/sandbox/gateway.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "topupd/adapters/sys/system_clock.hpp"

namespace topupd::app {
namespace asio = boost::asio;
namespace {

constexpr int kWebhookAttempts = 5;

// Sends one webhook, retrying a few times like a gateway would.
asio::awaitable<void> deliver(adapters::net::Client& client, adapters::net::Request hook) {
  for (int attempt = 1; attempt <= kWebhookAttempts; ++attempt) {
    auto copy = hook;
    auto result = co_await client.send(std::move(copy));
    if (result && result->status >= 200 && result->status < 300) {
      spdlog::info("sandbox webhook delivered url={} status={}", hook.url, result->status);
      co_return;
    }
    spdlog::warn("sandbox webhook not accepted url={} attempt={} outcome={}", hook.url, attempt,
                 result ? std::to_string(result->status) : result.error().reason);
    asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(500 * attempt));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// Settlements are checked every 100 ms; a request that leaves a webhook waiting
// cancels `tick` so that it goes out at once.
asio::awaitable<void> webhook_loop(adapters::sandbox::Gateway& gateway, adapters::net::Client& client,
                                   asio::steady_timer& tick, bool& stopping) {
  while (!stopping) {
    for (auto& hook : gateway.take_webhooks()) {
      asio::co_spawn(co_await asio::this_coro::executor, deliver(client, std::move(hook)),
                     adapters::log_failure("sandbox webhook"));
    }
    tick.expires_after(std::chrono::milliseconds(100));
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

int sandbox(const SandboxOptions& options) {
  adapters::init_logging();
  config::SandboxServerConfig config = config::default_sandbox_config();
  if (!options.config_path.empty()) {
    auto loaded = config::load_sandbox_file(options.config_path, config::SecretSources::from_process());
    if (!loaded.config) {
      for (const auto& d : loaded.diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
      return 1;
    }
    config = std::move(*loaded.config);
  }
  if (!options.webhooks.empty()) {
    if (!adapters::net::parse_url(options.webhooks)) {
      std::fprintf(stderr, "topupd sandbox: --webhooks expects an http(s):// URL, e.g. http://127.0.0.1:9465/webhooks\n");
      return 2;
    }
    std::string prefix = options.webhooks;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    for (auto& gateway : config.gateways) {
      if (gateway.webhook_url.empty()) gateway.webhook_url = prefix + "/" + gateway.type;
    }
  }
  const auto colon = options.listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : options.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port_text = colon == std::string::npos ? "" : options.listen.substr(colon + 1);
  if (host.empty() || port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos || std::stoi(port_text) > 65535) {
    std::fprintf(stderr, "topupd sandbox: --listen expects HOST:PORT, e.g. 127.0.0.1:12111\n");
    return 2;
  }
  try {
    asio::io_context io;
    adapters::SystemClock clock;
    adapters::SystemRandom random;
    adapters::sandbox::Gateway gateway(config, clock);
    adapters::net::ServerOptions server_options;
    server_options.tls_cert_file = options.tls_cert;
    server_options.tls_key_file = options.tls_key;
    asio::steady_timer tick(io);
    adapters::net::Server server(io, server_options, [&](const adapters::net::ServerRequest& r) {
      if (options.log_requests) {
        // Microseconds since the epoch: what benchmarks line up with their own clocks.
        const auto at = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
        std::printf("request t_us=%lld method=%s path=%s account=%s\n", static_cast<long long>(at), r.method.c_str(),
                    r.path.c_str(), r.header("Stripe-Account").value_or("-").c_str());
        std::fflush(stdout);
      }
      auto response = gateway.handle(r);
      if (gateway.webhook_waiting()) tick.cancel();
      return response;
    });
    const std::string bound = server.listen(host, static_cast<std::uint16_t>(std::stoi(port_text)));
    adapters::net::ClientOptions client_options;
    client_options.name = "sandbox-webhooks";
    client_options.proxy = "";
    client_options.max_attempts = 1;
    adapters::net::Client client(io.get_executor(), client_options, clock, random);
    bool stopping = false;
    asio::co_spawn(io, webhook_loop(gateway, client, tick, stopping), adapters::log_failure("sandbox webhook loop"));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      stopping = true;
      server.stop();
      io.stop();
    });
    std::string formats;
    for (const auto& g : config.gateways) formats += (formats.empty() ? "" : ", ") + g.type;
    std::printf("sandbox listening on %s://%s (%s)\n", options.tls_cert.empty() ? "http" : "https", bound.c_str(),
                formats.c_str());
    std::fflush(stdout);
    io.run();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "topupd sandbox: %s\n", e.what());
    return 1;
  }
}

}  // namespace topupd::app
