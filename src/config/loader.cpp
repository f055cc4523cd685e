// YAML → Config. Walks the document once, recording where every field was written,
// converting scalars to their types and collecting every problem instead of stopping.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "topupd/config/config.hpp"
#include "topupd/core/cron.hpp"

namespace topupd::config {
namespace {

using core::Currency;
using core::Duration;
using core::Money;

std::optional<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

SourceLocation location_of(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// A scalar after `${…}` expansion. `secret` is true when any part came from a reference:
// such a value must never appear in a message.
struct Scalar {
  std::string text;
  bool secret = false;
  std::string references;  // "${env:NAME}" as written, for messages
};

class Loader {
 public:
  Loader(std::string file, const SecretSources& secrets, Config& config)
      : file_(std::move(file)), secrets_(secrets), config_(config) {}

  std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

  void error(const std::string& field, SourceLocation at, std::string message) {
    diagnostics_.push_back({file_, at, field, std::move(message)});
  }

  // A mapping whose keys are checked against `allowed`: unknown and duplicate keys are
  // reported, and every key's location is recorded under `path.key`.
  class Map {
   public:
    Map(Loader& loader, const YAML::Node& node, std::string path,
        std::vector<std::string> allowed)
        : loader_(loader), node_(node), path_(std::move(path)), allowed_(std::move(allowed)) {
      if (!node.IsMap()) {
        valid_ = false;
        loader_.error(path_, location_of(node.Mark()),
                      node.IsNull() ? "expected a mapping, found nothing"
                                    : "expected a mapping (key: value)");
        return;
      }
      std::set<std::string> seen;
      for (const auto& entry : node) {
        const auto key = entry.first.as<std::string>();
        const auto field = child_path(key);
        // A quoted key ("1234567890", an account number) is never a split amount.
        if (entry.first.Tag() != "!" && looks_like_split_number(key)) {
          // `{to_target: IDR 50,000,000}`: in a flow mapping ',' separates entries.
          if (seen.insert(key).second) {
            loader_.error(field, location_of(entry.first.Mark()),
                          fmt::format("'{}' is not a key: inside {{ }} a ',' separates entries, so an "
                                      "amount written with ',' was split; write 50_000_000",
                                      key));
          }
          continue;
        }
        if (!seen.insert(key).second) {
          loader_.error(field, location_of(entry.first.Mark()), "duplicate key");
          continue;
        }
        if (!allowed_.empty() && std::find(allowed_.begin(), allowed_.end(), key) == allowed_.end()) {
          loader_.error(field, location_of(entry.first.Mark()), unknown_key_message(key));
          continue;
        }
        loader_.config_.locations.record(field, location_of(entry.second.Mark().is_null()
                                                                ? entry.first.Mark()
                                                                : entry.second.Mark()));
        values_.emplace(key, entry.second);
      }
    }

    bool valid() const { return valid_; }
    const std::string& path() const { return path_; }
    std::string child_path(const std::string& key) const {
      return path_.empty() ? key : path_ + "." + key;
    }
    bool has(const std::string& key) const { return values_.count(key) != 0; }
    const YAML::Node* get(const std::string& key) const {
      auto it = values_.find(key);
      return it == values_.end() ? nullptr : &it->second;
    }
    // Keys in document order, with their nodes (for maps of named entries).
    std::vector<std::pair<std::string, YAML::Node>> entries() const {
      std::vector<std::pair<std::string, YAML::Node>> out;
      if (!valid_) return out;
      for (const auto& entry : node_) {
        const auto key = entry.first.as<std::string>();
        if (values_.count(key) != 0 &&
            std::none_of(out.begin(), out.end(), [&](const auto& e) { return e.first == key; })) {
          out.emplace_back(key, entry.second);
        }
      }
      return out;
    }
    SourceLocation location() const { return location_of(node_.Mark()); }

    void missing(const std::string& key, const std::string& what) const {
      loader_.error(child_path(key), location(), fmt::format("missing required field '{}' ({})", key, what));
    }

   private:
    static bool looks_like_split_number(const std::string& key) {
      return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    }

    std::string unknown_key_message(const std::string& key) const {
      std::string best;
      std::size_t best_distance = 3;
      for (const auto& candidate : allowed_) {
        const auto d = edit_distance(key, candidate);
        if (d < best_distance) {
          best_distance = d;
          best = candidate;
        }
      }
      std::string known;
      for (const auto& candidate : allowed_) known += (known.empty() ? "" : ", ") + candidate;
      if (!best.empty()) return fmt::format("unknown key '{}'; did you mean '{}'?", key, best);
      return fmt::format("unknown key '{}'; expected one of: {}", key, known);
    }

    Loader& loader_;
    YAML::Node node_;
    std::string path_;
    std::vector<std::string> allowed_;
    bool valid_ = true;
    std::map<std::string, YAML::Node> values_;
  };

  // Expands `${env:NAME}`, `${file:PATH}` and `${cred:NAME}` inside a scalar.
  std::optional<Scalar> scalar(const YAML::Node& node, const std::string& field) {
    if (!node.IsScalar()) {
      error(field, location_of(node.Mark()),
            node.IsNull() ? "missing value" : "expected a single value, found a list or mapping");
      return std::nullopt;
    }
    const std::string& raw = node.Scalar();
    Scalar out;
    std::size_t pos = 0;
    while (pos < raw.size()) {
      const auto open = raw.find("${", pos);
      if (open == std::string::npos) {
        out.text.append(raw, pos);
        break;
      }
      out.text.append(raw, pos, open - pos);
      const auto close = raw.find('}', open);
      if (close == std::string::npos) {
        error(field, location_of(node.Mark()), "unterminated '${' reference; write ${env:NAME}");
        return std::nullopt;
      }
      const std::string reference = raw.substr(open, close - open + 1);
      const std::string inner = raw.substr(open + 2, close - open - 2);
      const auto colon = inner.find(':');
      const std::string kind = inner.substr(0, colon);
      const std::string argument = colon == std::string::npos ? "" : inner.substr(colon + 1);
      std::optional<std::string> value;
      if (colon == std::string::npos || argument.empty()) {
        error(field, location_of(node.Mark()),
              fmt::format("bad reference {}; write ${{env:NAME}}, ${{file:PATH}} or ${{cred:NAME}}", reference));
        return std::nullopt;
      }
      if (kind == "env") {
        value = secrets_.env(argument);
        if (!value) {
          error(field, location_of(node.Mark()),
                fmt::format("environment variable {} is not set (referenced as {})", argument, reference));
          return std::nullopt;
        }
      } else if (kind == "file" || kind == "cred") {
        std::string path = argument;
        if (kind == "cred") {
          const auto directory = secrets_.env("CREDENTIALS_DIRECTORY");
          if (!directory || argument.find('/') != std::string::npos) {
            error(field, location_of(node.Mark()),
                  directory ? fmt::format("credential name {} must not contain '/'", argument)
                            : fmt::format("{} needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)", reference));
            return std::nullopt;
          }
          path = *directory + "/" + argument;
        }
        value = secrets_.read_file(path);
        if (!value && kind == "cred") {
          // The shipped unit loads a whole directory: LoadCredential=topupd:DIR
          // names each file's credential topupd_FILENAME.
          const std::string from_directory = *secrets_.env("CREDENTIALS_DIRECTORY") + "/topupd_" + argument;
          value = secrets_.read_file(from_directory);
          if (!value) path += " or " + from_directory;
        }
        if (!value) {
          error(field, location_of(node.Mark()),
                fmt::format("cannot read {} (referenced as {})", path, reference));
          return std::nullopt;
        }
        // Secrets written with `echo` end in a newline that is not part of them.
        if (!value->empty() && value->back() == '\n') value->pop_back();
        if (!value->empty() && value->back() == '\r') value->pop_back();
      } else {
        error(field, location_of(node.Mark()),
              fmt::format("unknown reference kind '{}' in {}; use env, file or cred", kind, reference));
        return std::nullopt;
      }
      out.text += *value;
      out.secret = true;
      out.references += (out.references.empty() ? "" : ", ") + reference;
      pos = close + 1;
    }
    return out;
  }

  // Reports a conversion problem. `message` may quote the value; when the value came
  // from a secret reference only `expected` (which never contains it) is shown.
  void bad_value(const std::string& field, const YAML::Node& node, const Scalar& value,
                 const std::string& message, const std::string& expected) {
    if (value.secret) {
      error(field, location_of(node.Mark()),
            fmt::format("invalid value from {} (value not shown); expected {}", value.references, expected));
    } else {
      error(field, location_of(node.Mark()), message);
    }
  }

  std::optional<std::string> string_at(const Map& map, const std::string& key) {
    const YAML::Node* node = map.get(key);
    if (!node) return std::nullopt;
    auto value = scalar(*node, map.child_path(key));
    if (!value) return std::nullopt;
    if (value->text.empty()) {
      error(map.child_path(key), location_of(node->Mark()), "must not be empty");
      return std::nullopt;
    }
    return value->text;
  }

  std::optional<bool> bool_at(const Map& map, const std::string& key) {
    const YAML::Node* node = map.get(key);
    if (!node) return std::nullopt;
    auto value = scalar(*node, map.child_path(key));
    if (!value) return std::nullopt;
    if (value->text == "true") return true;
    if (value->text == "false") return false;
    bad_value(map.child_path(key), *node, *value, "expected true or false", "true or false");
    return std::nullopt;
  }

  std::optional<std::int64_t> integer_at(const Map& map, const std::string& key,
                                         std::int64_t low, std::int64_t high) {
    const YAML::Node* node = map.get(key);
    if (!node) return std::nullopt;
    auto value = scalar(*node, map.child_path(key));
    if (!value) return std::nullopt;
    std::int64_t number = 0;
    // At most 18 digits fit in int64 without overflow; check before accumulating.
    bool ok = !value->text.empty() && value->text.size() <= 18;
    for (std::size_t i = 0; ok && i < value->text.size(); ++i) {
      const char c = value->text[i];
      if (c < '0' || c > '9') ok = false;
      else number = number * 10 + (c - '0');
    }
    if (!ok || number < low || number > high) {
      const std::string expected = fmt::format("a whole number from {} to {}", low, high);
      bad_value(map.child_path(key), *node, *value, "expected " + expected, expected);
      return std::nullopt;
    }
    return number;
  }

  // "10%" or "10"
  std::optional<int> percent_at(const Map& map, const std::string& key, int low, int high) {
    const YAML::Node* node = map.get(key);
    if (!node) return std::nullopt;
    auto value = scalar(*node, map.child_path(key));
    if (!value) return std::nullopt;
    std::string text = value->text;
    if (!text.empty() && text.back() == '%') text.pop_back();
    int number = 0;
    bool ok = !text.empty() && text.size() <= 3;
    for (std::size_t i = 0; ok && i < text.size(); ++i) {  // never accumulate past 3 digits
      if (text[i] < '0' || text[i] > '9') ok = false;
      else number = number * 10 + (text[i] - '0');
    }
    if (!ok || number < low || number > high) {
      const std::string expected = fmt::format("a percentage from {}% to {}%", low, high);
      bad_value(map.child_path(key), *node, *value, "expected " + expected, expected);
      return std::nullopt;
    }
    return number;
  }

  std::optional<Duration> duration_at(const Map& map, const std::string& key) {
    const YAML::Node* node = map.get(key);
    if (!node) return std::nullopt;
    auto value = scalar(*node, map.child_path(key));
    if (!value) return std::nullopt;
    auto parsed = core::parse_duration(value->text);
    if (!parsed.value) {
      bad_value(map.child_path(key), *node, *value, parsed.error, "a duration such as 30s, 15m or 2h");
      return std::nullopt;
    }
    return parsed.value;
  }

  std::optional<Money> money_at(const Map& map, const std::string& key,
                                std::optional<Currency> currency) {
    const YAML::Node* node = map.get(key);
    if (!node) return std::nullopt;
    auto value = scalar(*node, map.child_path(key));
    if (!value) return std::nullopt;
    auto parsed = core::parse_money(value->text, currency);
    if (!parsed.value) {
      bad_value(map.child_path(key), *node, *value, parsed.error, "an amount such as IDR 10_000_000");
      return std::nullopt;
    }
    return parsed.value;
  }

  std::optional<std::vector<std::string>> strings_at(const Map& map, const std::string& key) {
    const YAML::Node* node = map.get(key);
    if (!node) return std::nullopt;
    const std::string field = map.child_path(key);
    if (!node->IsSequence()) {
      error(field, location_of(node->Mark()), "expected a list, e.g. [a, b]");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < node->size(); ++i) {
      const std::string item_field = fmt::format("{}[{}]", field, i);
      config_.locations.record(item_field, location_of((*node)[i].Mark()));
      if (auto value = scalar((*node)[i], item_field)) out.push_back(value->text);
    }
    return out;
  }

  void load(const YAML::Node& root);

 private:
  void load_http(const Map& root);
  bool listen_at(const Map& map, std::string& host, std::uint16_t& port);
  std::optional<std::vector<core::Cidr>> networks_at(const Map& map, const std::string& key);
  std::optional<std::size_t> size_at(const Map& map, const std::string& key, std::size_t low, std::size_t high);
  void load_webhooks(const YAML::Node& node);
  void load_provider_webhook(const YAML::Node& node, const std::string& path, ProviderConfig& provider);
  void load_providers(const YAML::Node& node);
  void load_http_settings(const Map& map, ProviderConfig& provider);
  void load_generic(const Map& map, ProviderConfig& provider);
  void load_sandbox_accounts(const YAML::Node& node, const std::string& path, ProviderConfig& provider);

 public:
  void load_sandbox(const YAML::Node& root, SandboxServerConfig& out);

 private:
  void load_accounts(const YAML::Node& node);
  void load_notifiers(const YAML::Node& node);
  void load_rules(const YAML::Node& node);
  void load_rule(const YAML::Node& node, const std::string& path);
  std::optional<core::TopUpSpec> load_top_up(const YAML::Node& node, const std::string& path,
                                             std::optional<Currency> currency);

  std::string file_;
  const SecretSources& secrets_;
  Config& config_;
  std::vector<Diagnostic> diagnostics_;
};

void Loader::load(const YAML::Node& root) {
  if (root.IsNull()) {
    error("", {1, 1}, "the file is empty; see etc/topupd/demo.yaml for an example");
    return;
  }
  Map top(*this, root, "",
          {"timezone", "dry_run", "log", "store", "control", "http", "webhooks", "providers", "accounts", "notifiers",
           "rules"});
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
    Map store(*this, *node, "store", {"sqlite"});
    if (auto path = string_at(store, "sqlite")) config_.store_path = *path;
    else if (store.valid() && !store.has("sqlite")) store.missing("sqlite", "the database file, e.g. /var/lib/topupd/topupd.db");
  }
  if (const YAML::Node* node = top.get("control")) {
    Map control(*this, *node, "control", {"socket"});
    if (auto path = string_at(control, "socket")) config_.control_socket = *path;
  }
  load_http(top);
  if (const YAML::Node* node = top.get("webhooks")) load_webhooks(*node);
  // Sections are read in dependency order, whatever their order in the file:
  // rules need their account's currency to read plain amounts.
  if (const YAML::Node* node = top.get("providers")) load_providers(*node);
  else top.missing("providers", "at least one provider, e.g. {demo: {type: sandbox}}");
  if (const YAML::Node* node = top.get("accounts")) load_accounts(*node);
  else top.missing("accounts", "at least one account to watch");
  if (const YAML::Node* node = top.get("notifiers")) load_notifiers(*node);
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
  if (const YAML::Node* tls_node = map.get("tls")) {
    Map tls(*this, *tls_node, "webhooks.tls", {"cert", "key"});
    if (auto cert = string_at(tls, "cert")) w.tls_cert = *cert;
    else if (tls.valid() && !tls.has("cert")) tls.missing("cert", "the PEM certificate chain file");
    if (auto key = string_at(tls, "key")) w.tls_key = *key;
    else if (tls.valid() && !tls.has("key")) tls.missing("key", "the PEM private key file");
  }
  if (auto list = networks_at(map, "allow_from")) w.allow_from = *list;
  if (auto list = networks_at(map, "trusted_proxies")) w.trusted_proxies = *list;
  if (auto size = size_at(map, "max_body", 1024, 16 * 1024 * 1024)) w.max_body = *size;
  if (auto d = duration_at(map, "timeout")) w.timeout = *d;
  if (auto n = integer_at(map, "max_connections", 1, 100'000)) w.max_connections = static_cast<std::size_t>(*n);
  if (auto prefix = string_at(map, "snap_prefix")) w.snap_prefix = *prefix;
  if (auto d = duration_at(map, "keep_events_for")) w.keep_events_for = *d;
}

// A provider's `webhook:` block; which keys it takes depends on the type.
void Loader::load_provider_webhook(const YAML::Node& node, const std::string& path, ProviderConfig& provider) {
  static const std::map<std::string, std::string> kSecretKey = {
      {"stripe", "secret"}, {"snap", "public_key"}, {"midtrans_iris", "merchant_key"},
      {"xendit", "callback_token"}, {"flip", "token"}, {"generic_http", "secret"}};
  const auto secret_key = kSecretKey.find(provider.type);
  if (secret_key == kSecretKey.end()) return;  // an unknown type is reported by validate
  std::vector<std::string> keys = {secret_key->second, "allow_from"};
  const bool timed = provider.type == "stripe" || provider.type == "snap" || provider.type == "generic_http";
  if (timed) keys.push_back("tolerance");
  if (provider.type == "generic_http") keys.insert(keys.end(), {"header", "encoding", "timestamp_header", "event_id"});
  Map map(*this, node, path + ".webhook", keys);
  if (!map.valid()) return;
  auto& w = provider.webhook;
  w.enabled = true;
  if (auto secret = string_at(map, secret_key->second)) w.secret = *secret;
  else if (!map.has(secret_key->second)) {
    static const std::map<std::string, std::string> kWhat = {
        {"stripe", "the endpoint's signing secret, whsec_…"},
        {"snap", "the bank's PEM public key, e.g. ${file:/etc/topupd/bank-public.pem}"},
        {"midtrans_iris", "the Iris merchant key"},
        {"xendit", "the callback verification token from the Xendit dashboard"},
        {"flip", "the validation token from the Flip dashboard"},
        {"generic_http", "the shared HMAC-SHA512 secret"}};
    map.missing(secret_key->second, kWhat.at(provider.type));
  }
  if (auto list = networks_at(map, "allow_from")) w.allow_from = *list;
  if (auto d = duration_at(map, "tolerance")) w.tolerance = *d;
  if (auto v = string_at(map, "header")) w.header = *v;
  if (auto v = string_at(map, "encoding")) w.encoding = *v;
  if (auto v = string_at(map, "timestamp_header")) w.timestamp_header = *v;
  if (auto v = string_at(map, "event_id")) w.event_id = *v;
}

namespace {
const std::vector<std::string> kHttpKeys = {"base_url", "ca_file", "proxy", "timeouts", "rate_limit", "retries",
                                            "circuit_breaker"};
std::vector<std::string> provider_keys(const std::string& type) {
  std::vector<std::string> keys = {"type"};
  auto add = [&](std::initializer_list<const char*> more) { keys.insert(keys.end(), more.begin(), more.end()); };
  if (type == "sandbox") {
    add({"settle_after", "seed", "accounts", "faults"});
    return keys;
  }
  keys.insert(keys.end(), kHttpKeys.begin() + (type == "generic_http" ? 1 : 0), kHttpKeys.end());
  add({"webhook"});
  if (type == "stripe" || type == "xendit" || type == "midtrans_iris" || type == "flip") add({"api_key"});
  if (type == "snap") {
    add({"client_id", "client_secret", "private_key", "partner_id", "channel_id", "path_prefix", "balance_field",
         "signature_encoding", "utc_offset", "debit_source"});
  }
  if (type == "generic_http") add({"method", "url", "headers", "auth", "amount"});
  return keys;
}
}  // namespace

void Loader::load_http_settings(const Map& map, ProviderConfig& provider) {
  const std::string& path = map.path();
  auto& http = provider.http;
  if (auto url = string_at(map, "base_url")) http.base_url = *url;
  if (auto ca = string_at(map, "ca_file")) http.ca_file = *ca;
  if (const YAML::Node* proxy_node = map.get("proxy")) {
    if (auto proxy = scalar(*proxy_node, path + ".proxy")) http.proxy = proxy->text;  // "" turns it off
  }
  if (const YAML::Node* node = map.get("timeouts")) {
    Map timeouts(*this, *node, path + ".timeouts", {"connect", "tls", "request"});
    if (auto d = duration_at(timeouts, "connect")) http.connect_timeout = *d;
    if (auto d = duration_at(timeouts, "tls")) http.tls_timeout = *d;
    if (auto d = duration_at(timeouts, "request")) http.request_timeout = *d;
  }
  if (const YAML::Node* node = map.get("rate_limit")) {
    Map rate(*this, *node, path + ".rate_limit", {"per_second", "concurrency"});
    if (auto n = integer_at(rate, "per_second", 1, 100'000)) http.rate_per_second = static_cast<int>(*n);
    if (auto n = integer_at(rate, "concurrency", 1, 10'000)) http.concurrency = static_cast<int>(*n);
  }
  if (auto n = integer_at(map, "retries", 0, 10)) http.max_attempts = static_cast<int>(*n) + 1;
  if (const YAML::Node* node = map.get("circuit_breaker")) {
    Map breaker(*this, *node, path + ".circuit_breaker", {"failures", "open_for"});
    if (auto n = integer_at(breaker, "failures", 1, 1000)) http.breaker_failures = static_cast<int>(*n);
    if (auto d = duration_at(breaker, "open_for")) http.breaker_open_for = *d;
  }
}

void Loader::load_generic(const Map& map, ProviderConfig& provider) {
  const std::string& path = map.path();
  auto& g = provider.generic;
  if (auto method = string_at(map, "method")) g.method = *method;
  if (auto url = string_at(map, "url")) g.url = *url;
  else if (!map.has("url")) map.missing("url", "the balance endpoint, e.g. https://api.example.com/balance/{account}");
  if (const YAML::Node* node = map.get("headers")) {
    Map headers(*this, *node, path + ".headers", {});
    for (const auto& [name, value] : headers.entries()) {
      if (auto text = scalar(value, path + ".headers." + name)) g.headers.emplace_back(name, text->text);
    }
  }
  if (const YAML::Node* node = map.get("auth")) {
    Map auth(*this, *node, path + ".auth", {"basic", "bearer"});
    if (const YAML::Node* basic_node = auth.get("basic")) {
      Map basic(*this, *basic_node, path + ".auth.basic", {"username", "password"});
      if (auto user = string_at(basic, "username")) g.basic_username = *user;
      if (const YAML::Node* pw = basic.get("password")) {
        if (auto text = scalar(*pw, path + ".auth.basic.password")) g.basic_password = text->text;
      }
    }
    if (auto token = string_at(auth, "bearer")) g.bearer_token = *token;
  }
  if (const YAML::Node* node = map.get("amount")) {
    Map amount(*this, *node, path + ".amount", {"pointer", "form", "currency", "currency_pointer"});
    if (auto pointer = string_at(amount, "pointer")) g.amount_pointer = *pointer;
    else if (amount.valid() && !amount.has("pointer")) amount.missing("pointer", "a JSON Pointer such as /data/balance");
    if (auto form = string_at(amount, "form")) g.amount_form = *form;
    if (auto currency = string_at(amount, "currency")) g.currency = *currency;
    if (auto pointer = string_at(amount, "currency_pointer")) g.currency_pointer = *pointer;
  } else {
    map.missing("amount", "where the balance is: {pointer: /balance, form: minor}");
  }
}

void Loader::load_providers(const YAML::Node& node) {
  Map providers(*this, node, "providers", {});
  for (const auto& [name, value] : providers.entries()) {
    const std::string path = "providers." + name;
    // The type decides which keys are allowed.
    std::string type;
    if (value.IsMap() && value["type"] && value["type"].IsScalar()) type = value["type"].Scalar();
    Map map(*this, value, path, provider_keys(type));
    if (!map.valid()) continue;
    ProviderConfig provider;
    provider.name = name;
    if (auto type_text = string_at(map, "type")) provider.type = *type_text;
    else if (!map.has("type")) map.missing("type", "sandbox, stripe, xendit, snap, midtrans_iris, flip or generic_http");
    if (provider.type != "sandbox") {
      load_http_settings(map, provider);
      if (auto key = string_at(map, "api_key")) provider.api_key = *key;
      if (provider.type == "snap") {
        auto& snap = provider.snap;
        if (auto v = string_at(map, "client_id")) snap.client_id = *v;
        if (auto v = string_at(map, "client_secret")) snap.client_secret = *v;
        if (auto v = string_at(map, "private_key")) snap.private_key = *v;
        if (auto v = string_at(map, "partner_id")) snap.partner_id = *v;
        if (auto v = string_at(map, "channel_id")) snap.channel_id = *v;
        if (auto v = string_at(map, "path_prefix")) snap.path_prefix = *v;
        if (auto v = string_at(map, "balance_field")) snap.balance_field = *v;
        if (auto v = string_at(map, "signature_encoding")) snap.signature_encoding = *v;
        if (auto v = string_at(map, "utc_offset")) snap.utc_offset = *v;
        if (auto v = string_at(map, "debit_source")) snap.debit_source = *v;
        if (snap.partner_id.empty()) snap.partner_id = snap.client_id;
      }
      if (provider.type == "generic_http") load_generic(map, provider);
      if (const YAML::Node* webhook = map.get("webhook")) load_provider_webhook(*webhook, path, provider);
      config_.providers.push_back(std::move(provider));
      continue;
    }
    if (auto settle = duration_at(map, "settle_after")) provider.settle_after = *settle;
    if (auto seed = integer_at(map, "seed", 0, 999'999'999'999)) provider.seed = static_cast<std::uint64_t>(*seed);
    if (const YAML::Node* faults_node = map.get("faults")) {
      Map faults(*this, *faults_node, path + ".faults", {"lose_answers", "fail_before_apply", "decline", "phantom_credits"});
      if (auto lose = percent_at(faults, "lose_answers", 0, 100)) provider.lose_answers_percent = *lose;
      if (auto fail = percent_at(faults, "fail_before_apply", 0, 100)) provider.fail_before_apply_percent = *fail;
      if (auto decline = percent_at(faults, "decline", 0, 100)) provider.decline_percent = *decline;
      if (auto phantom = percent_at(faults, "phantom_credits", 0, 100)) provider.phantom_percent = *phantom;
    }
    if (const YAML::Node* accounts = map.get("accounts")) load_sandbox_accounts(*accounts, path, provider);
    config_.providers.push_back(std::move(provider));
  }
}

void Loader::load_sandbox_accounts(const YAML::Node& node, const std::string& path, ProviderConfig& provider) {
  Map account_map(*this, node, path + ".accounts", {});
  for (const auto& [id, account_node] : account_map.entries()) {
    const std::string account_path = path + ".accounts." + id;
    Map account(*this, account_node, account_path,
                {"balance", "drain_per_minute", "inflow_per_minute", "noise", "fail"});
    if (!account.valid()) continue;
    auto opening = money_at(account, "balance", std::nullopt);
    if (!opening) {
      if (!account.has("balance")) account.missing("balance", "the opening balance, e.g. IDR 50_000_000");
      continue;
    }
    SandboxAccountConfig sandbox{id, *opening, Money(0, opening->currency()),
                                 Money(0, opening->currency()), 0, 0};
    if (auto drain = money_at(account, "drain_per_minute", opening->currency())) sandbox.drain_per_minute = *drain;
    if (auto inflow = money_at(account, "inflow_per_minute", opening->currency())) sandbox.inflow_per_minute = *inflow;
    if (auto noise = percent_at(account, "noise", 0, 100)) sandbox.noise_percent = *noise;
    if (auto fail = percent_at(account, "fail", 0, 100)) sandbox.fail_percent = *fail;
    provider.accounts.push_back(sandbox);
  }
}

// The stand-alone sandbox's file: {gateways: {stripe: {...}, snap: {...}}}.
void Loader::load_sandbox(const YAML::Node& root, SandboxServerConfig& out) {
  if (root.IsNull()) {
    error("", {1, 1}, "the file is empty; see etc/topupd/sandbox.yaml for an example");
    return;
  }
  Map top(*this, root, "", {"gateways"});
  if (!top.valid()) return;
  const YAML::Node* gateways_node = top.get("gateways");
  if (!gateways_node) {
    top.missing("gateways", "one entry per wire format, e.g. {stripe: {accounts: ...}}");
    return;
  }
  static const std::map<std::string, std::vector<std::string>> kSettings = {
      {"stripe", {"secret_key", "webhook_secret"}},
      {"xendit", {"secret_key", "callback_token"}},
      {"snap", {"client_id", "client_secret", "client_public_key", "private_key", "path_prefix", "partner_id"}},
      {"midtrans_iris", {"api_key", "merchant_key"}},
      {"flip", {"secret_key", "validation_token"}},
      {"generic", {"token"}},
  };
  Map gateways(*this, *gateways_node, "gateways", {"stripe", "xendit", "snap", "midtrans_iris", "flip", "generic"});
  for (const auto& [type, value] : gateways.entries()) {
    const std::string path = "gateways." + type;
    std::vector<std::string> keys = kSettings.at(type);
    keys.insert(keys.end(), {"accounts", "settle_after", "seed", "webhook_url", "decline"});
    Map map(*this, value, path, keys);
    if (!map.valid()) continue;
    SandboxGatewayConfig gateway;
    gateway.type = type;
    gateway.simulation.name = type;
    gateway.simulation.type = "sandbox";
    for (const auto& key : kSettings.at(type)) {
      if (auto text = string_at(map, key)) gateway.settings[key] = *text;
    }
    if (auto url = string_at(map, "webhook_url")) gateway.webhook_url = *url;
    if (auto decline = percent_at(map, "decline", 0, 100)) gateway.simulation.decline_percent = *decline;
    if (auto settle = duration_at(map, "settle_after")) gateway.simulation.settle_after = *settle;
    if (auto seed = integer_at(map, "seed", 0, 999'999'999'999)) gateway.simulation.seed = static_cast<std::uint64_t>(*seed);
    if (const YAML::Node* accounts = map.get("accounts")) load_sandbox_accounts(*accounts, path, gateway.simulation);
    else map.missing("accounts", "the simulated accounts, e.g. {acct_main: {balance: USD 5_000}}");
    out.gateways.push_back(std::move(gateway));
  }
}

void Loader::load_accounts(const YAML::Node& node) {
  Map accounts(*this, node, "accounts", {});
  for (const auto& [name, value] : accounts.entries()) {
    const std::string path = "accounts." + name;
    Map map(*this, value, path, {"provider", "id", "balance", "currency", "poll"});
    if (!map.valid()) continue;
    AccountConfig account;
    account.name = name;
    account.id = name;
    if (auto provider = string_at(map, "provider")) account.provider = *provider;
    else if (!map.has("provider")) map.missing("provider", "the name of a configured provider");
    if (auto id = string_at(map, "id")) account.id = *id;
    if (auto balance = string_at(map, "balance")) account.balance = *balance;
    if (const YAML::Node* currency_node = map.get("currency")) {
      if (auto code = scalar(*currency_node, path + ".currency")) {
        if (auto currency = Currency::find(code->text)) account.currency = *currency;
        else bad_value(path + ".currency", *currency_node, *code,
                       fmt::format("unknown currency '{}' (ISO-4217 code such as IDR, USD)", code->text),
                       "an ISO-4217 code such as IDR or USD");
      }
    } else {
      map.missing("currency", "ISO-4217 code such as IDR");
    }
    if (const YAML::Node* poll_node = map.get("poll")) {
      Map poll(*this, *poll_node, path + ".poll", {"every", "timeout", "jitter", "max_backoff"});
      if (auto every = duration_at(poll, "every")) account.poll.every = *every;
      if (auto timeout = duration_at(poll, "timeout")) account.poll.timeout = *timeout;
      if (auto jitter = percent_at(poll, "jitter", 0, 50)) account.poll.jitter_percent = *jitter;
      if (auto backoff = duration_at(poll, "max_backoff")) account.poll.max_backoff = *backoff;
    }
    config_.accounts.push_back(std::move(account));
  }
}

void Loader::load_notifiers(const YAML::Node& node) {
  Map notifiers(*this, node, "notifiers", {});
  for (const auto& [name, value] : notifiers.entries()) {
    const std::string path = "notifiers." + name;
    std::string type;
    if (value.IsMap() && value["type"] && value["type"].IsScalar()) type = value["type"].Scalar();
    std::vector<std::string> keys = {"type", "text_template", "locale", "dashboard_url", "runbook_url"};
    const std::vector<std::string> http = {"group_wait", "rate_limit", "timeout", "ca_file", "proxy"};
    if (type != "log") keys.insert(keys.end(), http.begin(), http.end());
    if (type == "email") keys.erase(std::find(keys.begin(), keys.end(), "rate_limit"));  // one message at a time
    if (type == "slack") keys.push_back("webhook_url");
    if (type == "telegram") keys.insert(keys.end(), {"bot_token", "chat_id", "api_url"});
    if (type == "webhook") keys.insert(keys.end(), {"url", "secret", "body_template"});
    if (type == "alertmanager") keys.insert(keys.end(), {"url", "resend"});
    if (type == "email") keys.insert(keys.end(), {"smtp", "starttls", "username", "password", "from", "to"});
    Map map(*this, value, path, keys);
    if (!map.valid()) continue;
    NotifierConfig notifier;
    notifier.name = name;
    if (auto v = string_at(map, "type")) notifier.type = *v;
    else if (!map.has("type")) map.missing("type", "log, email, slack, telegram, webhook or alertmanager");
    if (type == "email") {
      if (auto v = string_at(map, "smtp")) notifier.url = *v;
      else if (!map.has("smtp")) map.missing("smtp", "the mail server, e.g. smtp://mail.example.com:587");
      if (auto v = string_at(map, "starttls")) notifier.starttls = *v;
      if (auto v = string_at(map, "username")) notifier.username = *v;
      if (const YAML::Node* pw = map.get("password")) {
        if (auto text = scalar(*pw, path + ".password")) notifier.password = text->text;
      }
      if (auto v = string_at(map, "from")) notifier.from = *v;
      else if (!map.has("from")) map.missing("from", "the sender address, e.g. topupd@example.com");
      if (auto list = strings_at(map, "to")) notifier.to = *list;
      else if (!map.has("to")) map.missing("to", "the recipients, e.g. [finance@example.com]");
    }
    if (auto v = string_at(map, "webhook_url")) notifier.url = *v;
    else if (type == "slack" && !map.has("webhook_url")) map.missing("webhook_url", "the Slack incoming-webhook URL");
    if (type == "alertmanager") {
      if (const YAML::Node* url = map.get("url")) {
        if (url->IsSequence()) {
          if (auto list = strings_at(map, "url")) notifier.urls = *list;
        } else if (auto v = string_at(map, "url")) {
          notifier.urls = {*v};
        }
      } else {
        map.missing("url", "every Alertmanager's address, e.g. [http://127.0.0.1:9093]");
      }
    } else if (auto v = string_at(map, "url")) {
      notifier.url = *v;
    } else if (type == "webhook" && !map.has("url")) {
      map.missing("url", "where to POST the alert");
    }
    if (auto v = string_at(map, "bot_token")) notifier.bot_token = *v;
    else if (type == "telegram" && !map.has("bot_token")) map.missing("bot_token", "the bot's token from @BotFather");
    if (auto v = string_at(map, "chat_id")) notifier.chat_id = *v;
    else if (type == "telegram" && !map.has("chat_id")) map.missing("chat_id", "the chat, group or channel id");
    if (auto v = string_at(map, "api_url")) notifier.api_url = *v;
    if (auto v = string_at(map, "secret")) notifier.secret = *v;
    if (auto v = string_at(map, "body_template")) notifier.body_template = *v;
    if (auto v = string_at(map, "text_template")) notifier.text_template = *v;
    if (auto v = string_at(map, "locale")) notifier.locale = *v;
    if (auto v = string_at(map, "dashboard_url")) notifier.dashboard_url = *v;
    if (auto v = string_at(map, "runbook_url")) notifier.runbook_url = *v;
    if (auto d = duration_at(map, "group_wait")) notifier.group_wait = *d;
    if (auto d = duration_at(map, "resend")) notifier.resend = *d;
    if (auto d = duration_at(map, "timeout")) notifier.timeout = *d;
    if (auto v = string_at(map, "ca_file")) notifier.ca_file = *v;
    if (const YAML::Node* proxy_node = map.get("proxy")) {
      if (auto proxy = scalar(*proxy_node, path + ".proxy")) notifier.proxy = proxy->text;
    }
    if (const YAML::Node* rate_node = map.get("rate_limit")) {
      Map rate(*this, *rate_node, path + ".rate_limit", {"per_second"});
      if (auto n = integer_at(rate, "per_second", 1, 10'000)) notifier.rate_per_second = static_cast<int>(*n);
    }
    config_.notifiers.push_back(notifier);
  }
}

void Loader::load_rules(const YAML::Node& node) {
  if (!node.IsSequence()) {
    error("rules", location_of(node.Mark()), "expected a list of rules (each item starts with '- name:')");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string path = fmt::format("rules[{}]", i);
    config_.locations.record(path, location_of(node[i].Mark()));
    load_rule(node[i], path);
  }
}

void Loader::load_rule(const YAML::Node& node, const std::string& path) {
  Map map(*this, node, path, {"name", "account", "enabled", "when", "schedule", "clear", "alert", "top_up"});
  if (!map.valid()) return;
  std::optional<Currency> currency;
  std::string account_name;
  if (auto account = string_at(map, "account")) {
    account_name = *account;
    if (const AccountConfig* found = config_.find_account(*account)) currency = found->currency;
  } else if (!map.has("account")) {
    map.missing("account", "the account this rule watches");
  }
  const Money zero(0, currency.value_or(*Currency::find("IDR")));
  // A field that fails to load keeps a neutral default (in the account's currency)
  // so that validate still checks the rest of the rule: one `check` shows everything.
  core::Rule rule{.name = "", .account = account_name, .enabled = true,
                  .when = core::Condition{core::Condition::Kind::below, zero, Duration(0), Duration(0), std::nullopt},
                  .hold_for = Duration(0), .clear = std::nullopt, .alert = std::nullopt, .top_up = std::nullopt};
  if (auto name = string_at(map, "name")) rule.name = *name;
  else if (!map.has("name")) map.missing("name", "a unique rule name");
  if (auto enabled = bool_at(map, "enabled")) rule.enabled = *enabled;

  if (map.has("when") && map.has("schedule")) {
    error(path + ".schedule", config_.locations.find(path + ".schedule"),
          "a rule has either a condition ('when') or a 'schedule', not both");
  } else if (map.has("schedule")) {
    rule.when.kind = core::Condition::Kind::schedule;
    if (const YAML::Node* schedule_node = map.get("schedule")) {
      if (auto text = scalar(*schedule_node, path + ".schedule")) {
        auto parsed = core::parse_cron(text->text);
        if (parsed.value) rule.when.schedule = parsed.value;
        else bad_value(path + ".schedule", *schedule_node, *text, parsed.error, "five cron fields, e.g. \"0 9 * * *\"");
      }
    }
  } else if (const YAML::Node* when_node = map.get("when")) {
    Map when(*this, *when_node, path + ".when", {"below", "above", "runway_below", "window", "stale_for", "for"});
    std::vector<std::string> kinds;
    for (const char* kind : {"below", "above", "runway_below", "stale_for"}) {
      if (when.has(kind)) kinds.emplace_back(kind);
    }
    if (when.valid() && kinds.size() != 1) {
      error(path + ".when", when.location(),
            kinds.empty() ? "give one condition: below, above, runway_below or stale_for"
                          : fmt::format("give one condition, not {}", fmt::join(kinds, " and ")));
    }
    if (auto below = money_at(when, "below", currency)) rule.when = {core::Condition::Kind::below, *below, Duration(0), Duration(0), std::nullopt};
    else if (auto above = money_at(when, "above", currency)) rule.when = {core::Condition::Kind::above, *above, Duration(0), Duration(0), std::nullopt};
    else if (auto runway = duration_at(when, "runway_below")) {
      rule.when = {core::Condition::Kind::runway_below, zero, *runway, Duration(std::chrono::hours(1)), std::nullopt};
      if (auto window = duration_at(when, "window")) rule.when.window = *window;
    } else if (auto stale = duration_at(when, "stale_for")) {
      rule.when = {core::Condition::Kind::stale_for, zero, *stale, Duration(0), std::nullopt};
    }
    if (when.has("window") && !when.has("runway_below")) {
      error(path + ".when.window", config_.locations.find(path + ".when.window"),
            "'window' belongs to runway_below: the trailing time the burn rate is measured over");
    }
    if (auto hold = duration_at(when, "for")) rule.hold_for = *hold;
  } else {
    map.missing("when", "a condition, e.g. {below: IDR 10_000_000}, or a schedule");
  }
  if (const YAML::Node* clear_node = map.get("clear")) {
    Map clear(*this, *clear_node, path + ".clear", {"above", "below"});
    if (auto above = money_at(clear, "above", currency)) rule.clear = core::Clear{true, *above};
    else if (auto below = money_at(clear, "below", currency)) rule.clear = core::Clear{false, *below};
    else if (clear.valid() && !clear.has("above") && !clear.has("below")) {
      clear.missing("above", "the balance that resolves the rule");
    }
  }
  if (const YAML::Node* alert_node = map.get("alert")) {
    Map alert(*this, *alert_node, path + ".alert", {"severity", "notify", "repeat", "send_resolved"});
    core::AlertSpec spec;
    if (auto severity = string_at(alert, "severity")) spec.severity = *severity;
    if (auto notify = strings_at(alert, "notify")) spec.notify = *notify;
    if (auto repeat = duration_at(alert, "repeat")) spec.repeat = *repeat;
    if (auto resolved = bool_at(alert, "send_resolved")) spec.send_resolved = *resolved;
    rule.alert = spec;
  }
  if (const YAML::Node* top_up_node = map.get("top_up")) {
    rule.top_up = load_top_up(*top_up_node, path + ".top_up", currency);
  }
  config_.rules.push_back(std::move(rule));
  config_.rule_paths.push_back(path);
}

// "50", "50%", "12.5%", "0.25": a percentage as basis points (1 % = 100).
std::optional<std::int32_t> parse_percent(std::string text) {
  if (!text.empty() && text.back() == '%') text.pop_back();
  const auto dot = text.find('.');
  const std::string whole = text.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 3 || fraction.size() > 2 || (dot != std::string::npos && fraction.empty())) return std::nullopt;
  for (char c : whole + fraction) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  while (fraction.size() < 2) fraction.push_back('0');
  return std::stoi(whole) * 100 + std::stoi(fraction);
}

std::optional<core::TopUpSpec> Loader::load_top_up(const YAML::Node& node, const std::string& path,
                                                   std::optional<Currency> currency) {
  Map map(*this, node, path, {"method", "via", "from", "from_account", "amount", "keep_in_source", "limits", "verify"});
  if (!map.valid()) return std::nullopt;
  bool complete = true;
  auto method = core::TopUpMethod::direct_debit;
  if (auto text = string_at(map, "method")) {
    if (*text == "direct_debit") method = core::TopUpMethod::direct_debit;
    else if (*text == "sweep") method = core::TopUpMethod::sweep;
    else {
      complete = false;
      error(path + ".method", config_.locations.find(path + ".method"),
            fmt::format("unknown method '{}'; expected direct_debit or sweep", *text));
    }
  } else {
    complete = false;
    if (!map.has("method")) map.missing("method", "direct_debit or sweep");
  }
  std::string via = string_at(map, "via").value_or("");
  std::string source;
  std::optional<Money> keep_in_source = money_at(map, "keep_in_source", currency);
  if (method == core::TopUpMethod::sweep) {
    if (auto from = string_at(map, "from")) source = *from;
    else if (!map.has("from")) {
      complete = false;
      map.missing("from", "the account a sweep takes money from");
    }
    if (map.has("from_account")) {
      error(path + ".from_account", config_.locations.find(path + ".from_account"),
            "from_account is for direct_debit; a sweep names its source account in 'from'");
    }
  } else {
    if (auto from_account = string_at(map, "from_account")) source = *from_account;
    if (map.has("from")) {
      error(path + ".from", config_.locations.find(path + ".from"),
            "'from' is for sweeps; a direct debit names the bank account in 'from_account'");
    }
    if (map.has("keep_in_source")) {
      error(path + ".keep_in_source", config_.locations.find(path + ".keep_in_source"),
            "keep_in_source is for sweeps: it is what a sweep leaves in its source account");
    }
  }
  std::optional<core::AmountSpec> amount_spec;
  if (const YAML::Node* amount_node = map.get("amount")) {
    Map amount(*this, *amount_node, path + ".amount",
               {"to_target", "fixed", "percent_of_source", "min", "max", "round_up_to"});
    int strategies = 0;
    for (const char* key : {"to_target", "fixed", "percent_of_source"}) strategies += amount.has(key) ? 1 : 0;
    if (strategies != 1 && amount.valid()) {
      complete = false;
      error(path + ".amount", amount.location(),
            "give exactly one amount strategy: to_target, fixed or percent_of_source");
    }
    std::optional<Money> value;
    std::int32_t basis_points = 0;
    auto kind = core::AmountSpec::Kind::to_target;
    if (auto target = money_at(amount, "to_target", currency)) {
      value = target;
    } else if (auto fixed = money_at(amount, "fixed", currency)) {
      kind = core::AmountSpec::Kind::fixed;
      value = fixed;
    } else if (const YAML::Node* percent_node = amount.get("percent_of_source")) {
      kind = core::AmountSpec::Kind::percent_of_source;
      if (auto text = scalar(*percent_node, path + ".amount.percent_of_source")) {
        auto parsed = parse_percent(text->text);
        if (!parsed || *parsed <= 0 || *parsed > 10'000) {
          bad_value(path + ".amount.percent_of_source", *percent_node, *text,
                    fmt::format("'{}' must be a percentage in (0, 100], e.g. 50 or 12.5%", text->text),
                    "a percentage in (0, 100]");
        } else {
          basis_points = *parsed;
          value = Money(0, currency.value_or(*Currency::find("IDR")));
        }
      }
    }
    auto min = money_at(amount, "min", currency);
    auto max = money_at(amount, "max", currency);
    auto round_up_to = money_at(amount, "round_up_to", currency);
    if (value) amount_spec = core::AmountSpec{kind, *value, basis_points, round_up_to, min, max};
    else complete = false;
  } else {
    complete = false;
    map.missing("amount", "e.g. {to_target: IDR 50_000_000}");
  }
  core::Limits limits;
  if (const YAML::Node* limits_node = map.get("limits")) {
    Map limit_map(*this, *limits_node, path + ".limits",
                  {"per_day", "max_per_day", "cooldown", "approval_above", "approval_expires"});
    limits.per_day = money_at(limit_map, "per_day", currency);
    if (auto count = integer_at(limit_map, "max_per_day", 1, 1'000'000)) limits.max_per_day = static_cast<std::uint32_t>(*count);
    if (auto cooldown = duration_at(limit_map, "cooldown")) limits.cooldown = *cooldown;
    limits.approval_above = money_at(limit_map, "approval_above", currency);
    if (auto expires = duration_at(limit_map, "approval_expires")) limits.approval_expires = *expires;
  }
  core::Verification verify;
  if (const YAML::Node* verify_node = map.get("verify")) {
    Map verify_map(*this, *verify_node, path + ".verify", {"within", "tolerance"});
    if (auto within = duration_at(verify_map, "within")) verify.within = *within;
    if (auto tolerance = percent_at(verify_map, "tolerance", 0, 100)) verify.tolerance_percent = *tolerance;
  }
  if (!complete || !amount_spec) return std::nullopt;
  return core::TopUpSpec{method, via, source, *amount_spec, keep_in_source, limits, verify};
}

bool by_location(const Diagnostic& a, const Diagnostic& b) {
  if (a.at.line != b.at.line) return a.at.line < b.at.line;
  return a.at.column < b.at.column;
}

}  // namespace

namespace {

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
