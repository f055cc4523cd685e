// Semantic validation of a typed Config: references between sections, currencies and
// ranges — servers, providers, webhooks, accounts and notifiers here, rules in
// validate_rules.cpp. Pure: no I/O, locations come from the config's SourceMap.
#include <set>

#include <fmt/format.h>

#include "checker.hpp"

namespace topupd::config {

using core::Money;

void Checker::problem(const std::string& field, std::string message) {
  diagnostics_.push_back({config_.path, config_.locations.find(field), field, std::move(message)});
}

void Checker::currency_matches(const std::string& field, const std::optional<Money>& money,
                      const AccountConfig& account) {
  if (money && !(money->currency() == account.currency)) {
    problem(field, fmt::format("currency {} does not match account '{}' ({})",
                               money->currency().code(), account.name, account.currency.code()));
  }
}

std::vector<Diagnostic> Checker::run() {
  check_log_level();
  check_store();
  check_providers();
  check_webhooks();
  check_api();
  check_console();
  check_accounts();
  check_notifiers();
  check_rules();
  return std::move(diagnostics_);
}

void Checker::check_log_level() {
  for (const char* const* level = kLogLevels; *level; ++level) {
    if (config_.log_level == *level) return;
  }
  problem("log.level", fmt::format("unknown log level '{}'; expected trace, debug, info, warn, "
                                   "error or off",
                                   config_.log_level));
}

void Checker::check_store() {
  if (!config_.store_dsn.empty() &&
      (config_.store_lease < std::chrono::seconds(3) || config_.store_lease > std::chrono::minutes(10))) {
    problem("store.postgres.lease", "give a lease between 3s and 10m: long enough to renew it twice over a slow "
                                    "network, short enough that another instance takes over soon");
  }
}

void Checker::check_providers() {
  for (const auto& provider : config_.providers) {
    const std::string path = "providers." + provider.name;
    if (!provider.type) continue;  // missing or unknown: reported while loading
    if (provider.type != ProviderType::sandbox) {
      check_http_provider(path, provider);
      continue;
    }
    if (provider.settle_after.count() < 0) problem(path + ".settle_after", "must not be negative");
    for (const auto& account : provider.accounts) {
      const std::string account_path = path + ".accounts." + account.id;
      if (account.drain_per_minute.is_negative()) {
        problem(account_path + ".drain_per_minute", "must not be negative");
      }
      if (account.inflow_per_minute.is_negative()) {
        problem(account_path + ".inflow_per_minute", "must not be negative");
      }
    }
  }
}

void Checker::check_http_provider(const std::string& path, const ProviderConfig& provider) {
  const auto& http = provider.http;
  auto is_url = [](const std::string& url) {
    return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  };
  if (!http.base_url.empty() && !is_url(http.base_url)) {
    problem(path + ".base_url", "expected an http:// or https:// URL");
  }
  if (provider.type == ProviderType::snap && http.base_url.empty() && !config_.locations.has(path + ".base_url")) {
    problem(path + ".base_url", "missing required field 'base_url' (the bank's SNAP API, e.g. https://api.bank.co.id)");
  }
  for (const auto* timeout : {&http.connect_timeout, &http.tls_timeout, &http.request_timeout}) {
    if (timeout->count() <= 0) problem(path + ".timeouts", "every timeout must be longer than 0s");
  }
  const bool keyed = provider.type == ProviderType::stripe || provider.type == ProviderType::xendit || provider.type == ProviderType::midtrans_iris ||
                     provider.type == ProviderType::flip;
  // A field that was written but failed to load has been reported already.
  auto missing = [&](const std::string& field) { return !config_.locations.has(path + "." + field); };
  if (keyed && provider.api_key.empty() && missing("api_key")) {
    problem(path + ".api_key", "missing required field 'api_key' (write it as ${cred:NAME} or ${env:NAME})");
  }
  if (provider.type == ProviderType::snap) {
    const auto& snap = provider.snap;
    if (snap.client_id.empty() && missing("client_id")) {
      problem(path + ".client_id", "missing required field 'client_id' (X-CLIENT-KEY)");
    }
    if (snap.client_secret.empty() && missing("client_secret")) {
      problem(path + ".client_secret", "missing required field 'client_secret'");
    }
    if (snap.private_key.empty()) {
      if (missing("private_key")) {
        problem(path + ".private_key", "missing required field 'private_key' (PEM, e.g. ${file:/etc/topupd/snap.pem})");
      }
    } else if (snap.private_key.find("PRIVATE KEY-----") == std::string::npos) {
      problem(path + ".private_key", "not a PEM private key (expected a PKCS#8 'BEGIN PRIVATE KEY' block)");
    }
    if (snap.signature_encoding != "base64" && snap.signature_encoding != "hex") {
      problem(path + ".signature_encoding", "expected base64 or hex");
    }
    if (snap.balance_field != "availableBalance" && snap.balance_field != "amount" &&
        snap.balance_field != "ledgerBalance" && snap.balance_field != "floatAmount" &&
        snap.balance_field != "holdAmount") {
      problem(path + ".balance_field",
              "expected availableBalance, amount, ledgerBalance, floatAmount or holdAmount");
    }
    const auto& off = snap.utc_offset;
    if (off.size() != 6 || (off[0] != '+' && off[0] != '-') || off[3] != ':') {
      problem(path + ".utc_offset", "expected +HH:MM, e.g. +07:00");
    }
  }
  if (provider.type == ProviderType::generic_http) {
    const auto& g = provider.generic;
    if (!g.url.empty() && !is_url(g.url)) problem(path + ".url", "expected an http:// or https:// URL");
    if (g.method != "GET" && g.method != "POST") problem(path + ".method", "expected GET or POST");
    if (g.amount_form != "minor" && g.amount_form != "major" && g.amount_form != "string") {
      problem(path + ".amount.form", "expected minor (integer minor units), major (decimal number) or string (decimal text)");
    }
    if (!g.amount_pointer.empty() && g.amount_pointer.front() != '/') {
      problem(path + ".amount.pointer", "a JSON Pointer starts with '/', e.g. /data/balance");
    }
    if (!g.currency.empty() && !core::Currency::find(g.currency)) {
      problem(path + ".amount.currency", fmt::format("unknown currency '{}'", g.currency));
    }
    if (!g.basic_username.empty() && !g.bearer_token.empty()) {
      problem(path + ".auth", "choose basic or bearer, not both");
    }
  }
}

void Checker::check_webhooks() {
  const auto& w = config_.webhooks;
  bool any = false;
  for (const auto& provider : config_.providers) {
    if (!provider.webhook.enabled) continue;
    any = true;
    const std::string path = "providers." + provider.name + ".webhook";
    const auto& hook = provider.webhook;
    if (!w.enabled) {
      problem(path, "webhooks are received only with a top-level webhooks: {listen: HOST:PORT} section");
    }
    if (provider.type == ProviderType::snap && !hook.secret.empty() && hook.secret.find("PUBLIC KEY-----") == std::string::npos) {
      problem(path + ".public_key", "not a PEM public key (expected a 'BEGIN PUBLIC KEY' block)");
    }
    if (provider.type == ProviderType::stripe && hook.secret.find_first_of(" \t\r\n") != std::string::npos) {
      problem(path + ".secret", "the signing secret contains whitespace; copy it again from the Stripe dashboard");
    }
    if (hook.tolerance.count() <= 0) problem(path + ".tolerance", "must be longer than 0s");
    if (hook.encoding != "hex" && hook.encoding != "base64") problem(path + ".encoding", "expected hex or base64");
    if (!hook.event_id.empty() && hook.event_id.front() != '/') {
      problem(path + ".event_id", "a JSON Pointer starts with '/', e.g. /id");
    }
  }
  if (!w.enabled) return;
  if (!any) {
    problem("webhooks", "no provider has a webhook: block, so nothing would be received; add one "
                        "(e.g. providers.stripe.webhook.secret) or remove this section");
  }
  if (w.tls_cert.empty() != w.tls_key.empty()) problem("webhooks.tls", "give both cert and key");
  if (w.timeout.count() <= 0) problem("webhooks.timeout", "must be longer than 0s");
  if (w.keep_events_for < std::chrono::hours(1)) {
    problem("webhooks.keep_events_for", "keep event ids for at least 1h, longer than any gateway redelivers");
  }
  if (!w.snap_prefix.empty() && (w.snap_prefix.front() != '/' || w.snap_prefix.back() == '/')) {
    problem("webhooks.snap_prefix", "expected a path such as /snap (leading '/', no trailing '/')");
  }
  if (w.enabled && w.port != 0 && w.port == config_.http_port && w.host == config_.http_host) {
    problem("webhooks.listen", "is the same address as http.listen; give the receiver its own port");
  }
}

namespace {
bool loopback(const std::string& host) { return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0; }
}  // namespace

void Checker::check_secret_listener(const std::string& section, const std::string& host, const std::string& cert,
                                    const std::string& key, const std::string& what_crosses) {
  if (cert.empty() != key.empty()) problem(section + ".tls", "give both cert and key");
  // Only loopback may carry secrets in clear.
  if (!host.empty() && !loopback(host) && cert.empty()) {
    problem(section + ".listen",
            fmt::format("listens beyond loopback without TLS: {} would cross the network in clear; add {}.tls "
                        "{{cert, key}} or listen on 127.0.0.1 behind a TLS proxy",
                        what_crosses, section));
  }
}

void Checker::check_api() {
  const ApiConfig& a = config_.api;
  if (!a.enabled) return;
  check_secret_listener("api", a.host, a.tls_cert, a.tls_key, "bearer tokens");
  if (a.timeout.count() <= 0) problem("api.timeout", "must be longer than 0s");
  const auto same_as = [&](const std::string& host, std::uint16_t port) {
    return a.port != 0 && a.port == port && a.host == host;
  };
  if (same_as(config_.http_host, config_.http_port)) {
    problem("api.listen", "is the same address as http.listen; give the API its own port");
  }
  if (config_.webhooks.enabled && same_as(config_.webhooks.host, config_.webhooks.port)) {
    problem("api.listen", "is the same address as webhooks.listen; give the API its own port");
  }
}

void Checker::check_console() {
  const ConsoleConfig& c = config_.console;
  if (!c.enabled) return;
  check_secret_listener("console", c.host, c.tls_cert, c.tls_key, "passwords and sessions");
  if (c.session_idle.count() <= 0) problem("console.session_idle", "must be longer than 0s");
  if (c.session_max < c.session_idle) problem("console.session_max", "must not be shorter than session_idle");
  if (c.history_keep < std::chrono::hours(24)) problem("console.history", "must be at least 1d (the charts show a day)");
  const auto same_as = [&](const std::string& host, std::uint16_t port) {
    return c.port != 0 && c.port == port && c.host == host;
  };
  if (same_as(config_.http_host, config_.http_port) || same_as(config_.api.host, config_.api.port) ||
      (config_.webhooks.enabled && same_as(config_.webhooks.host, config_.webhooks.port))) {
    problem("console.listen", "is the address of another server of topupd; give the console its own port");
  }
}

void Checker::check_accounts() {
  for (const auto& account : config_.accounts) {
    const std::string path = "accounts." + account.name;
    if (account.poll.every.count() <= 0) problem(path + ".poll.every", "must be longer than 0s");
    if (account.poll.timeout.count() <= 0) problem(path + ".poll.timeout", "must be longer than 0s");
    if (account.provider.empty()) continue;
    const ProviderConfig* provider = config_.find_provider(account.provider);
    if (!provider) {
      problem(path + ".provider", fmt::format("unknown provider '{}'{}", account.provider,
                                              known_providers()));
      continue;
    }
    if (!provider->type) continue;  // reported while loading
    static const std::map<ProviderType, std::set<std::string>> kBalances = {
        {ProviderType::stripe, {"available", "pending"}}, {ProviderType::xendit, {"available", "holding"}},
        {ProviderType::snap, {"available"}}, {ProviderType::midtrans_iris, {"available"}},
        {ProviderType::flip, {"available"}}, {ProviderType::generic_http, {"available"}}};
    if (auto kinds = kBalances.find(*provider->type);
        kinds != kBalances.end() && !kinds->second.count(account.balance)) {
      std::string allowed;
      for (const auto& k : kinds->second) allowed += (allowed.empty() ? "" : ", ") + k;
      problem(path + ".balance", fmt::format("a {} provider reads: {}; not '{}'", to_string(*provider->type),
                                             allowed, account.balance));
    }
    if (provider->type == ProviderType::sandbox) {
      if (account.balance != "available") {
        problem(path + ".balance", fmt::format("the sandbox has one balance per account: "
                                               "'available', not '{}'",
                                               account.balance));
      }
      const SandboxAccountConfig* simulated = provider->find_sandbox_account(account.id);
      if (!simulated) {
        problem(path + (config_.locations.find(path + ".id").line ? ".id" : ".provider"),
                fmt::format("sandbox '{}' has no account '{}'; add it under providers.{}.accounts",
                            provider->name, account.id, provider->name));
      } else if (!(simulated->opening_balance.currency() == account.currency)) {
        problem(path + ".currency",
                fmt::format("sandbox account '{}' holds {}, not {}", account.id,
                            simulated->opening_balance.currency().code(), account.currency.code()));
      }
    }
  }
}

void Checker::check_notifiers() {
  auto is_url = [](const std::string& url) {
    return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
  };
  for (const auto& n : config_.notifiers) {
    const std::string path = "notifiers." + n.name;
    if (!n.type) continue;  // missing or unknown: reported while loading
    if (n.type == NotifierType::events) continue;  // a subscription: checked while loading `events:`
    if (n.type == NotifierType::email) {
      if (!n.url.empty() && n.url.rfind("smtp://", 0) != 0 && n.url.rfind("smtps://", 0) != 0) {
        problem(path + ".smtp", "expected smtp://HOST:PORT (STARTTLS) or smtps://HOST:PORT (implicit TLS)");
      }
      if (n.starttls != "required" && n.starttls != "opportunistic" && n.starttls != "off") {
        problem(path + ".starttls", "expected required, opportunistic or off");
      }
      if (!n.from.empty() && n.from.find('@') == std::string::npos) problem(path + ".from", "expected an address");
      for (const auto& address : n.to) {
        if (address.find('@') == std::string::npos) problem(path + ".to", "expected addresses such as finance@example.com");
      }
      if (config_.locations.has(path + ".to") && n.to.empty()) problem(path + ".to", "name at least one recipient");
    }
    const char* url_key = n.type == NotifierType::slack ? ".webhook_url" : ".url";
    if (n.type != NotifierType::email && !n.url.empty() && !is_url(n.url)) problem(path + url_key, "expected an http:// or https:// URL");
    for (std::size_t i = 0; i < n.urls.size(); ++i) {
      if (!is_url(n.urls[i])) problem(fmt::format("{}.url", path), "expected http:// or https:// URLs");
    }
    if (n.type == NotifierType::telegram && !is_url(n.api_url)) problem(path + ".api_url", "expected an http:// or https:// URL");
    if (n.locale != "en" && n.locale != "id-ID") problem(path + ".locale", "expected en or id-ID");
    if (n.group_wait.count() < 0) problem(path + ".group_wait", "must not be negative");
    if (n.timeout.count() <= 0) problem(path + ".timeout", "must be longer than 0s");
    if (n.resend < std::chrono::seconds(1)) problem(path + ".resend", "must be at least 1s");
    if (!n.body_template.empty() && n.body_template.find("{{") == std::string::npos) {
      problem(path + ".body_template", "has no {{field}}; see the README for the fields");
    }
  }
}

std::string Checker::known_providers() const {
  std::string names;
  for (const auto& p : config_.providers) names += (names.empty() ? "" : ", ") + p.name;
  return names.empty() ? "" : "; configured: " + names;
}

std::string Checker::known_accounts() const {
  std::string names;
  for (const auto& a : config_.accounts) names += (names.empty() ? "" : ", ") + a.name;
  return names.empty() ? "" : "; configured: " + names;
}

std::string Checker::known_notifiers() const {
  std::string names;
  for (const auto& n : config_.notifiers) {
    if (n.type != NotifierType::events) names += (names.empty() ? "" : ", ") + n.name;
  }
  return names.empty() ? "; no notifiers are configured" : "; configured: " + names;
}

std::vector<Diagnostic> validate(const Config& config) { return Checker(config).run(); }

}  // namespace topupd::config
