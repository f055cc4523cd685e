// One configuration generation: a validated Config and the providers built for it.
//
// Building the next generation from the running one keeps every provider whose
// settings did not change, with its state (a sandbox's balances and ledger, an HTTP
// gateway's pooled connections and SNAP token), and carries over the settings that
// only a restart changes (the store, the control socket, the admin address), noting
// each one that the new file changes. Building touches nothing running: a provider
// that cannot be built throws, and the running generation stays in force. The Daemon
// then hands the generation to each part's configure() (app.cpp).
//
// Private to src/app. May call: the provider factories it is given.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "topupd/adapters/providers/provider.hpp"
#include "topupd/adapters/providers/sandbox_provider.hpp"
#include "topupd/config/config.hpp"

namespace topupd::app {

using ProviderMap = std::map<std::string, std::shared_ptr<adapters::Provider>>;

struct ProviderFactories {
  // A gateway reached over HTTP (every type but sandbox).
  std::function<std::shared_ptr<adapters::Provider>(const config::ProviderConfig&)> http;
  // An embedded sandbox.
  std::function<std::shared_ptr<adapters::SandboxProvider>(const config::ProviderConfig&)> sandbox;
};

struct Generation {
  config::Config config;
  ProviderMap providers;  // every provider, sandboxes included
  std::map<std::string, std::shared_ptr<adapters::SandboxProvider>> sandboxes;
  // One line per restart-only setting the new file changes and this generation ignores.
  std::vector<std::string> kept_until_restart;
};

// The generation the daemon starts with: every provider built afresh.
Generation first_generation(config::Config config, const ProviderFactories& make);

// The generation a reload moves to. `running` is not modified.
Generation next_generation(const Generation& running, config::Config config, const ProviderFactories& make);

}  // namespace topupd::app
