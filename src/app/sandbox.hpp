// `topupd sandbox`: the stand-alone gateway simulator. Private to src/app.
#pragma once

#include <string>

namespace topupd::app {

struct SandboxOptions {
  std::string listen = "127.0.0.1:12111";
  std::string config_path;  // empty: the built-in gateways
  std::string tls_cert;
  std::string tls_key;
  std::string webhooks;  // URL prefix: gateways without a webhook_url post to PREFIX/TYPE
  bool log_requests = false;  // one stdout line per request, timestamped in microseconds
};

// Serves until SIGTERM/SIGINT; returns the exit code.
int sandbox(const SandboxOptions& options);

}  // namespace topupd::app
