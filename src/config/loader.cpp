// YAML → Config: the document's top level, the admin and webhook servers, and the
// public entry points. See loader.hpp for the walker.
#include "loader.hpp"

namespace topupd::config {
namespace detail {

void Loader::load(const YAML::Node& root) {
  if (root.IsNull()) {
    error("", {1, 1}, "the file is empty; see etc/topupd/demo.yaml for an example");
    return;
  }
  Map top(*this, root, "",
          {"timezone", "dry_run", "log", "store", "control", "destinations", "http", "webhooks", "api", "console", "providers",
           "accounts", "notifiers", "events", "rules"});
  if (!top.valid()) return;

  if (auto tz = string_at(top, "timezone")) {
    config_.timezone = *tz;
    const char* tzdir = std::getenv("TZDIR");
    const std::string zone_file = std::string(tzdir ? tzdir : "/usr/share/zoneinfo") + "/" + *tz;
    std::optional<core::TimeZone> zone;
    if (tz->find("..") == std::string::npos && tz->front() != '/') {
      if (auto data = read_whole_file(zone_file)) zone = core::TimeZone::from_tzif(*tz, *data);
    }
    if (zone) {
      config_.zone = std::move(*zone);
    } else {
      error("timezone", config_.locations.find("timezone"),
            fmt::format("unknown time zone '{}' (an IANA name such as Asia/Jakarta or UTC, from the "
                        "system tz database; install tzdata)",
                        *tz));
    }
  }
  if (auto dry = bool_at(top, "dry_run")) config_.dry_run = *dry;
  if (const YAML::Node* node = top.get("log")) {
    Map log(*this, *node, "log", {"level"});
    if (auto level = string_at(log, "level")) config_.log_level = *level;
  }
  if (const YAML::Node* node = top.get("store")) {
    Map store(*this, *node, "store", {"sqlite", "postgres"});
    if (auto path = string_at(store, "sqlite")) config_.store_path = *path;
    if (const YAML::Node* pg_node = store.get("postgres")) {
      Map pg(*this, *pg_node, "store.postgres", {"dsn", "lease"});
      if (auto dsn = string_at(pg, "dsn")) config_.store_dsn = *dsn;
      if (auto lease = duration_at(pg, "lease")) config_.store_lease = *lease;
      else if (pg.valid() && !pg.has("dsn")) pg.missing("dsn", "a libpq connection string, e.g. \"${cred:pg-dsn}\"");
      if (store.has("sqlite")) {
        error("store.postgres", config_.locations.find("store.postgres"), "give one store: sqlite or postgres");
      }
    }
    if (store.valid() && !store.has("sqlite") && !store.has("postgres")) {
      store.missing("sqlite", "the database file, e.g. /var/lib/topupd/topupd.db (or postgres: {dsn: …})");
    }
  }
  if (const YAML::Node* node = top.get("control")) {
    Map control(*this, *node, "control", {"socket"});
    if (auto path = string_at(control, "socket")) config_.control_socket = *path;
  }
  if (auto path = string_at(top, "destinations")) {
    config_.destinations_path = *path;
    config_.destinations_named = true;
  }
  load_http(top);
  if (const YAML::Node* node = top.get("webhooks")) load_webhooks(*node);
  if (const YAML::Node* node = top.get("api")) load_api(*node);
  if (const YAML::Node* node = top.get("console")) load_console(*node);
  // Sections are read in dependency order, whatever their order in the file:
  // rules need their account's currency to read plain amounts.
  if (const YAML::Node* node = top.get("providers")) load_providers(*node);
  else top.missing("providers", "at least one provider, e.g. {demo: {type: sandbox}}");
  if (const YAML::Node* node = top.get("accounts")) load_accounts(*node);
  else top.missing("accounts", "at least one account to watch");
  config_.index_accounts();
  if (const YAML::Node* node = top.get("notifiers")) load_notifiers(*node);
  if (const YAML::Node* node = top.get("events")) load_events(*node);
  if (const YAML::Node* node = top.get("rules")) load_rules(*node);
}

void Loader::load_http(const Map& top) {
  const YAML::Node* node = top.get("http");
  if (!node) return;
  Map http(*this, *node, "http", {"listen"});
  listen_at(http, config_.http_host, config_.http_port);
}

bool Loader::listen_at(const Map& map, std::string& host_out, std::uint16_t& port_out) {
  const YAML::Node* listen_node = map.get("listen");
  if (!listen_node) return false;
  const std::string field = map.child_path("listen");
  auto listen = scalar(*listen_node, field);
  if (!listen) return false;
  // host:port, with IPv6 hosts in brackets: [::1]:9464
  const std::string& text = listen->text;
  const auto colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  const std::string port_text = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  if (!port_text.empty() && port_text.size() <= 5 &&
      std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    port = std::stoi(port_text);
  }
  if (host.empty() || port < 0 || port > 65535 || !core::parse_ip(host)) {
    const std::string expected = "IP:PORT, e.g. 127.0.0.1:9464, 0.0.0.0:8080 or [::1]:9464 (port 0 picks a free port)";
    bad_value(field, *listen_node, *listen, "expected " + expected, expected);
    return false;
  }
  host_out = host;
  port_out = static_cast<std::uint16_t>(port);
  return true;
}

std::optional<std::vector<core::Cidr>> Loader::networks_at(const Map& map, const std::string& key) {
  auto texts = strings_at(map, key);
  if (!texts) return std::nullopt;
  std::vector<core::Cidr> out;
  const std::string field = map.child_path(key);
  for (std::size_t i = 0; i < texts->size(); ++i) {
    const std::string item = fmt::format("{}[{}]", field, i);
    auto parsed = core::parse_cidr((*texts)[i]);
    if (parsed.value) out.push_back(*parsed.value);
    else error(item, config_.locations.find(item), fmt::format("'{}': {}", (*texts)[i], parsed.error));
  }
  return out;
}

// "64KiB", "1MiB", "500kB", "65536"
std::optional<std::size_t> Loader::size_at(const Map& map, const std::string& key, std::size_t low, std::size_t high) {
  const YAML::Node* node = map.get(key);
  if (!node) return std::nullopt;
  auto value = scalar(*node, map.child_path(key));
  if (!value) return std::nullopt;
  const std::string& text = value->text;
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  static const std::map<std::string, std::size_t> kUnits = {
      {"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"kB", 1000}, {"KB", 1000}, {"MB", 1000 * 1000}};
  const auto unit = kUnits.find(text.substr(digits));
  std::size_t number = 0;
  bool ok = digits > 0 && digits <= 9 && unit != kUnits.end();
  for (std::size_t i = 0; ok && i < digits; ++i) number = number * 10 + static_cast<std::size_t>(text[i] - '0');
  if (ok) number *= unit->second;
  if (!ok || number < low || number > high) {
    const std::string expected = fmt::format("a size from {} to {} bytes, e.g. 64KiB or 1MiB", low, high);
    bad_value(map.child_path(key), *node, *value, "expected " + expected, expected);
    return std::nullopt;
  }
  return number;
}

// A server's `tls: {cert, key}`, both required once the block is there.
void Loader::tls_at(const Map& map, const std::string& path, std::string& cert_out, std::string& key_out) {
  const YAML::Node* node = map.get("tls");
  if (!node) return;
  Map tls(*this, *node, path, {"cert", "key"});
  if (auto cert = string_at(tls, "cert")) cert_out = *cert;
  else if (tls.valid() && !tls.has("cert")) tls.missing("cert", "the PEM certificate chain file");
  if (auto key = string_at(tls, "key")) key_out = *key;
  else if (tls.valid() && !tls.has("key")) tls.missing("key", "the PEM private key file");
}

void Loader::load_webhooks(const YAML::Node& node) {
  Map map(*this, node, "webhooks",
          {"listen", "tls", "allow_from", "trusted_proxies", "max_body", "timeout", "max_connections", "snap_prefix",
           "keep_events_for"});
  if (!map.valid()) return;
  auto& w = config_.webhooks;
  w.enabled = true;
  if (!listen_at(map, w.host, w.port) && !map.has("listen")) {
    map.missing("listen", "the address gateways post to, e.g. 0.0.0.0:8080");
  }
  tls_at(map, "webhooks.tls", w.tls_cert, w.tls_key);
  if (auto list = networks_at(map, "allow_from")) w.allow_from = *list;
  if (auto list = networks_at(map, "trusted_proxies")) w.trusted_proxies = *list;
  if (auto size = size_at(map, "max_body", 1024, 16 * 1024 * 1024)) w.max_body = *size;
  if (auto d = duration_at(map, "timeout")) w.timeout = *d;
  if (auto n = integer_at(map, "max_connections", 1, 100'000)) w.max_connections = static_cast<std::size_t>(*n);
  if (auto prefix = string_at(map, "snap_prefix")) w.snap_prefix = *prefix;
  if (auto d = duration_at(map, "keep_events_for")) w.keep_events_for = *d;
}

void Loader::load_api(const YAML::Node& node) {
  Map map(*this, node, "api", {"listen", "tls", "max_body", "timeout", "max_connections"});
  if (!map.valid()) return;
  auto& a = config_.api;
  a.enabled = true;
  if (!listen_at(map, a.host, a.port) && !map.has("listen")) {
    map.missing("listen", "the address the backend calls, e.g. 127.0.0.1:9471");
  }
  tls_at(map, "api.tls", a.tls_cert, a.tls_key);
  if (auto size = size_at(map, "max_body", 1024, 1024 * 1024)) a.max_body = *size;
  if (auto d = duration_at(map, "timeout")) a.timeout = *d;
  if (auto n = integer_at(map, "max_connections", 1, 10'000)) a.max_connections = static_cast<std::size_t>(*n);
}

// A provider's `webhook:` block; which keys it takes depends on the type.
void Loader::load_provider_webhook(const YAML::Node& node, const std::string& path, ProviderConfig& provider) {
  if (!provider.type) return;  // missing or unknown: already reported
  static const std::map<ProviderType, std::string> kSecretKey = {
      {ProviderType::stripe, "secret"}, {ProviderType::snap, "public_key"},
      {ProviderType::midtrans_iris, "merchant_key"}, {ProviderType::xendit, "callback_token"},
      {ProviderType::flip, "token"}, {ProviderType::generic_http, "secret"}};
  const auto secret_key = kSecretKey.find(*provider.type);
  if (secret_key == kSecretKey.end()) return;
  std::vector<std::string> keys = {secret_key->second, "allow_from"};
  const bool timed = provider.type == ProviderType::stripe || provider.type == ProviderType::snap ||
                     provider.type == ProviderType::generic_http;
  if (timed) keys.push_back("tolerance");
  if (provider.type == ProviderType::generic_http) keys.insert(keys.end(), {"header", "encoding", "timestamp_header", "event_id"});
  Map map(*this, node, path + ".webhook", keys);
  if (!map.valid()) return;
  auto& w = provider.webhook;
  w.enabled = true;
  if (auto secret = string_at(map, secret_key->second)) w.secret = *secret;
  else if (!map.has(secret_key->second)) {
    static const std::map<ProviderType, std::string> kWhat = {
        {ProviderType::stripe, "the endpoint's signing secret, whsec_…"},
        {ProviderType::snap, "the bank's PEM public key, e.g. ${file:/etc/topupd/bank-public.pem}"},
        {ProviderType::midtrans_iris, "the Iris merchant key"},
        {ProviderType::xendit, "the callback verification token from the Xendit dashboard"},
        {ProviderType::flip, "the validation token from the Flip dashboard"},
        {ProviderType::generic_http, "the shared HMAC-SHA512 secret"}};
    map.missing(secret_key->second, kWhat.at(*provider.type));
  }
  if (auto list = networks_at(map, "allow_from")) w.allow_from = *list;
  if (auto d = duration_at(map, "tolerance")) w.tolerance = *d;
  if (auto v = string_at(map, "header")) w.header = *v;
  if (auto v = string_at(map, "encoding")) w.encoding = *v;
  if (auto v = string_at(map, "timestamp_header")) w.timestamp_header = *v;
  if (auto v = string_at(map, "event_id")) w.event_id = *v;
}

// `events:` — the backend's subscriptions, each delivered through the outbox like a
// notifier (adapters/notify/events.hpp), named "event:NAME" there.
void Loader::load_events(const YAML::Node& node) {
  Map events(*this, node, "events", {});
  for (const auto& [name, value] : events.entries()) {
    const std::string path = "events." + name;
    Map map(*this, value, path, {"url", "secret", "types", "timeout", "ca_file", "proxy"});
    if (!map.valid()) continue;
    NotifierConfig subscription;
    subscription.name = "event:" + name;
    subscription.type = NotifierType::events;
    if (auto url = string_at(map, "url")) {
      subscription.url = *url;
      if (url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0) {
        error(path + ".url", config_.locations.find(path + ".url"), "expected an http:// or https:// URL");
      }
    } else if (!map.has("url")) {
      map.missing("url", "where the backend receives events");
    }
    if (auto secret = string_at(map, "secret")) {
      subscription.secret = *secret;
      if (secret->rfind("whsec_", 0) != 0 || secret->size() < 6 + 24) {
        // Never the value itself: it is a secret.
        error(path + ".secret", config_.locations.find(path + ".secret"),
              "expected a Standard Webhooks secret: whsec_ followed by the base64 of at least 18 random bytes");
      }
    } else if (!map.has("secret")) {
      map.missing("secret", "the signing secret, whsec_…, e.g. \"${cred:events-secret}\"");
    }
    if (auto types = strings_at(map, "types")) {
      for (std::size_t i = 0; i < types->size(); ++i) {
        const std::string& type = (*types)[i];
        if (!is_event_type(type)) {
          const std::string field = fmt::format("{}.types[{}]", path, i);
          error(field, config_.locations.find(field),
                fmt::format("unknown event type '{}'; expected {}", type, event_type_names()));
        }
      }
      subscription.event_types = *types;
    } else if (!map.has("types")) {
      map.missing("types", "the events wanted, e.g. [top_up.succeeded, top_up.failed]");
    }
    if (auto d = duration_at(map, "timeout")) subscription.timeout = *d;
    if (auto v = string_at(map, "ca_file")) subscription.ca_file = *v;
    if (const YAML::Node* proxy_node = map.get("proxy")) {
      if (auto proxy = scalar(*proxy_node, path + ".proxy")) subscription.proxy = proxy->text;
    }
    config_.notifiers.push_back(subscription);
  }
}

}  // namespace detail

namespace {

using detail::Loader;
using detail::location_of;
using detail::read_whole_file;

bool by_location(const Diagnostic& a, const Diagnostic& b) {
  if (a.at.line != b.at.line) return a.at.line < b.at.line;
  return a.at.column < b.at.column;
}

// Parses `text` and runs `walk(loader, root)`; every problem, including YAML syntax
// and structure errors, comes back as a diagnostic sorted by place.
template <class Walk>
std::vector<Diagnostic> parse_and_walk(const std::string& text, const std::string& path, const SecretSources& secrets,
                                       Config& config, Walk walk) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return {{path, location_of(e.mark), "", "YAML syntax error: " + e.msg}};
  }
  Loader loader(path, secrets, config);
  try {
    walk(loader, root);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on some malformed inputs while converting keys (e.g. a
    // mapping used as a key); report it at its place like any other problem.
    loader.error("", location_of(e.mark), "YAML structure error: " + e.msg);
  }
  auto diagnostics = std::move(loader.diagnostics());
  std::stable_sort(diagnostics.begin(), diagnostics.end(), by_location);
  return diagnostics;
}

}  // namespace

LoadResult load_string(const std::string& text, const std::string& path,
                       const SecretSources& secrets) {
  LoadResult result;
  Config config;
  config.path = path;
  bool parsed = false;
  result.diagnostics = parse_and_walk(text, path, secrets, config, [&](Loader& loader, const YAML::Node& root) {
    parsed = true;
    loader.load(root);
  });
  if (parsed) {
    // Semantic checks run even after structural errors so that one `check` shows every
    // problem; fields that failed to load are left empty and validate skips them.
    for (auto& diagnostic : validate(config)) {
      diagnostic.file = path;
      result.diagnostics.push_back(std::move(diagnostic));
    }
    std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), by_location);
  }
  if (result.diagnostics.empty()) result.config = std::move(config);
  return result;
}

LoadResult load_file(const std::string& path, const SecretSources& secrets) {
  auto text = read_whole_file(path);
  if (!text) {
    LoadResult result;
    result.diagnostics.push_back(
        {path, {}, "", fmt::format("cannot open the config file: {}", std::strerror(errno))});
    return result;
  }
  return load_string(*text, path, secrets);
}

DestinationsLoadResult load_destinations_string(const std::string& text, const std::string& path) {
  DestinationsLoadResult result;
  Config scratch;  // holds the source map
  Pins pins;
  // The file names accounts, never secrets: a ${…} in it is refused, not looked up.
  const auto nothing = [](const std::string&) { return std::optional<std::string>(); };
  const SecretSources none{nothing, nothing};
  result.diagnostics = parse_and_walk(text, path, none, scratch,
                                      [&](Loader& loader, const YAML::Node& root) {
                                        loader.load_destinations(root, pins);
                                      });
  if (result.diagnostics.empty()) result.pins = std::move(pins);
  return result;
}

SandboxLoadResult load_sandbox_string(const std::string& text, const std::string& path,
                                      const SecretSources& secrets) {
  SandboxLoadResult result;
  Config scratch;  // holds the source map
  SandboxServerConfig config;
  result.diagnostics = parse_and_walk(text, path, secrets, scratch,
                                      [&](Loader& loader, const YAML::Node& root) { loader.load_sandbox(root, config); });
  if (result.diagnostics.empty()) result.config = std::move(config);
  return result;
}

SandboxLoadResult load_sandbox_file(const std::string& path, const SecretSources& secrets) {
  auto text = read_whole_file(path);
  if (!text) {
    SandboxLoadResult result;
    result.diagnostics.push_back({path, {}, "", fmt::format("cannot open the sandbox file: {}", std::strerror(errno))});
    return result;
  }
  return load_sandbox_string(*text, path, secrets);
}

SecretSources SecretSources::from_process() {
  SecretSources sources;
  sources.env = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
  sources.read_file = read_whole_file;
  return sources;
}

}  // namespace topupd::config