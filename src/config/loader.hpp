// The YAML walker behind config::load_string and load_file: one pass over the
// document that records where every field was written, converts scalars to their
// types and collects every problem instead of stopping at the first. Its members are
// defined by concern: loader.cpp (the document, the servers, webhooks),
// load_providers.cpp (gateways and the sandbox), load_rules.cpp (accounts, notifiers,
// rules and top-ups), destinations.cpp (the pinned destinations file).
//
// Private to src/config.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "topupd/config/config.hpp"
#include "topupd/config/destinations.hpp"
#include "topupd/core/cron.hpp"

namespace topupd::config::detail {

using core::Currency;
using core::Duration;
using core::Money;

inline std::optional<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline SourceLocation location_of(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
inline std::size_t edit_distance(const std::string& a, const std::string& b) {
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

// "50", "50%", "12.5%", "0.25": a percentage as basis points (1 % = 100); load_rules.cpp.
std::optional<std::int32_t> parse_percent(std::string text);

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
      std::unordered_set<std::string> taken;  // a key written twice: its first entry
      for (const auto& entry : node_) {
        auto key = entry.first.as<std::string>();
        if (values_.count(key) != 0 && taken.insert(key).second) out.emplace_back(std::move(key), entry.second);
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
  void tls_at(const Map& map, const std::string& path, std::string& cert_out, std::string& key_out);
  std::optional<std::vector<core::Cidr>> networks_at(const Map& map, const std::string& key);
  std::optional<std::size_t> size_at(const Map& map, const std::string& key, std::size_t low, std::size_t high);
  void load_webhooks(const YAML::Node& node);
  void load_api(const YAML::Node& node);
  void load_console(const YAML::Node& node);  // load_console.cpp
  void load_provider_webhook(const YAML::Node& node, const std::string& path, ProviderConfig& provider);
  void load_providers(const YAML::Node& node);
  void load_http_settings(const Map& map, ProviderConfig& provider);
  void load_generic(const Map& map, ProviderConfig& provider);
  void load_sandbox_accounts(const YAML::Node& node, const std::string& path, ProviderConfig& provider);

 public:
  void load_sandbox(const YAML::Node& root, SandboxServerConfig& out);
  void load_destinations(const YAML::Node& root, Pins& out);
  void load_events(const YAML::Node& node);
  void load_generic_top_up(const YAML::Node& node, const std::string& path, GenericTopUpConfig& out);

 private:
  void load_accounts(const YAML::Node& node);
  void load_notifiers(const YAML::Node& node);
  void load_rules(const YAML::Node& node);
  void load_rule(const YAML::Node& node, const std::string& path);
  // One rail's keys (method, via, from, from_account, keep_in_source, check_balance_of) in `map`.
  std::optional<core::Rail> load_rail(const Map& map, const std::string& path, std::optional<Currency> currency);
  // load_deposit.cpp; a payout's keep_in_source comes back in `keep_in_source`.
  std::optional<core::DepositSpec> load_deposit(const Map& rail, const std::string& path,
                                                std::optional<Money>& keep_in_source, std::optional<Currency> currency);
  std::optional<core::TopUpSpec> load_top_up(const YAML::Node& node, const std::string& path,
                                             std::optional<Currency> currency, bool covers_demands = false);

  std::string file_;
  const SecretSources& secrets_;
  Config& config_;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace topupd::config::detail
