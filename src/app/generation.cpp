// Building a configuration generation (generation.hpp).
#include "generation.hpp"

#include <fmt/format.h>

#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

namespace {

// Builds or keeps each provider of `config`. `running` is null for the first generation.
void build_providers(Generation& next, const Generation* running, const ProviderFactories& make) {
  for (const auto& provider : next.config.providers) {
    const config::ProviderConfig* previous = running ? running->config.find_provider(provider.name) : nullptr;
    const bool unchanged = previous && previous->same_settings(provider) && running->providers.count(provider.name);
    if (provider.type != config::ProviderType::sandbox) {
      next.providers[provider.name] = unchanged ? running->providers.at(provider.name) : make.http(provider);
      continue;
    }
    std::shared_ptr<adapters::SandboxProvider> sandbox;
    if (unchanged && running->sandboxes.count(provider.name)) sandbox = running->sandboxes.at(provider.name);
    if (!sandbox) sandbox = make.sandbox(provider);
    next.sandboxes[provider.name] = sandbox;
    next.providers[provider.name] = std::move(sandbox);
  }
}

}  // namespace

Generation first_generation(config::Config config, const ProviderFactories& make) {
  Generation next;
  next.config = std::move(config);
  build_providers(next, nullptr, make);
  return next;
}

Generation next_generation(const Generation& running, config::Config config, const ProviderFactories& make) {
  Generation next;
  next.config = std::move(config);
  build_providers(next, &running, make);

  config::Config& wanted = next.config;
  const config::Config& now = running.config;
  if (wanted.control_socket != now.control_socket) {
    next.kept_until_restart.push_back(
        fmt::format("control.socket changed; the daemon keeps its socket until restart path={}",
                    adapters::field(now.control_socket)));
    wanted.control_socket = now.control_socket;
  }
  if (wanted.store_path != now.store_path || wanted.store_dsn != now.store_dsn) {
    next.kept_until_restart.push_back(
        fmt::format("store.sqlite or store.postgres changed; the daemon keeps its store until restart path={}",
                    adapters::field(now.store_path)));
    wanted.store_path = now.store_path;
    wanted.store_dsn = now.store_dsn;
  }
  if (wanted.http_host != now.http_host || wanted.http_port != now.http_port) {
    next.kept_until_restart.push_back("http.listen changed; the admin server keeps its address until restart");
    wanted.http_host = now.http_host;
    wanted.http_port = now.http_port;
  }
  if (!(wanted.api == now.api)) {
    next.kept_until_restart.push_back("api changed; the API keeps its address and TLS files until restart");
    wanted.api = now.api;
  }
  // The console's server stays as it started; its sessions' timeouts, proxy roles, url
  // and history follow the reload.
  auto& c = wanted.console;
  if (c.enabled != now.console.enabled || c.host != now.console.host || c.port != now.console.port ||
      c.tls_cert != now.console.tls_cert || c.tls_key != now.console.tls_key || c.assets != now.console.assets ||
      c.proxy != now.console.proxy) {
    next.kept_until_restart.push_back(
        "console listen, tls, assets or auth kind changed; the console keeps them until restart");
    c.enabled = now.console.enabled;
    c.host = now.console.host;
    c.port = now.console.port;
    c.tls_cert = now.console.tls_cert;
    c.tls_key = now.console.tls_key;
    c.assets = now.console.assets;
    c.proxy = now.console.proxy;
  }
  return next;
}

}  // namespace topupd::app
