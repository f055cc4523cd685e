// The configuration: the user's contract, as plain structs.
//
// `load_file` reads one YAML file, expands `${env:NAME}`, `${file:PATH}` and
// `${cred:NAME}` (systemd credentials under $CREDENTIALS_DIRECTORY), converts every
// field to its type and then runs `validate`. It never stops at the first problem:
// every diagnostic names `FILE:LINE:COL`, the field path (`rules[0].when.below`) and
// what is wrong. A value that came from a secret reference is never printed.
//
// `validate` is pure: it checks references between sections, currencies and ranges on
// an already typed `Config`, reporting locations through the config's `SourceMap`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "topupd/config/kinds.hpp"
#include "topupd/core/access.hpp"
#include "topupd/core/ip_network.hpp"
#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/timezone.hpp"

namespace topupd::config {

struct SourceLocation {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

struct Diagnostic {
  std::string file;
  SourceLocation at;
  std::string field;    // e.g. "rules[0].when.below"; empty for file-level problems
  std::string message;
  // "FILE:LINE:COL: FIELD: MESSAGE"
  std::string to_string() const;
};

// Field path → where it was written.
class SourceMap {
 public:
  void record(const std::string& field, SourceLocation at) { locations_[field] = at; }
  // The location of `field`, or of its nearest recorded parent.
  SourceLocation find(const std::string& field) const;
  // Whether `field` itself was written in the file.
  bool has(const std::string& field) const { return locations_.count(field) != 0; }

 private:
  std::map<std::string, SourceLocation> locations_;
};

struct PollConfig {
  core::Duration every{std::chrono::seconds(30)};
  core::Duration timeout{std::chrono::seconds(5)};
  int jitter_percent = 10;
  core::Duration max_backoff{std::chrono::minutes(5)};
};

struct AccountConfig {
  std::string name;
  std::string provider;
  std::string id;                  // the account's id at the provider; defaults to `name`
  std::string balance = "available";
  core::Currency currency = *core::Currency::find("IDR");
  PollConfig poll;
};

// One simulated account of an embedded sandbox provider.
struct SandboxAccountConfig {
  std::string id;
  core::Money opening_balance;
  core::Money drain_per_minute;    // simulated payouts
  core::Money inflow_per_minute;   // simulated customer payments
  int noise_percent = 0;           // each period's movement varies by ± this
  int fail_percent = 0;            // share of balance reads that fail (simulated outage)
};

// The connection to an HTTP gateway: where, how patient, how many requests.
struct HttpConfig {
  std::string base_url;   // defaults per type; a sandbox address replaces it
  std::string ca_file;    // PEM bundle; empty: the system trust store
  std::optional<std::string> proxy;  // unset: https_proxy/no_proxy from the environment
  core::Duration connect_timeout{std::chrono::seconds(5)};
  core::Duration tls_timeout{std::chrono::seconds(5)};
  core::Duration request_timeout{std::chrono::seconds(10)};
  int rate_per_second = 50;
  int concurrency = 16;
  int max_attempts = 3;
  int breaker_failures = 5;
  core::Duration breaker_open_for{std::chrono::seconds(30)};
  bool operator==(const HttpConfig&) const = default;
};

// Bank Indonesia SNAP settings of one bank or aggregator.
struct SnapConfig {
  std::string client_id;         // X-CLIENT-KEY
  std::string client_secret;     // HMAC-SHA512 key of transactional calls
  std::string private_key;       // PEM: signs the B2B token request
  std::string partner_id;        // X-PARTNER-ID; defaults to client_id
  std::string channel_id = "95221";
  std::string path_prefix;       // e.g. "/snap" or "/api"
  std::string balance_field = "availableBalance";  // then "amount"
  std::string signature_encoding = "base64";       // or "hex"
  std::string utc_offset = "+07:00";              // X-TIMESTAMP offset
  std::string debit_source;      // bankCardToken to debit when a rule names none
  std::string bank_code;         // Bank Indonesia's code of this bank ("014"): deposits to it go intrabank
  bool operator==(const SnapConfig&) const = default;
};

// Any JSON balance endpoint.
// One call of a generic top-up: the request and where its answer says what happened.
// Templates: {account} (the account's id), {key} (the idempotency key), {amount},
// {currency}, {source}, {method}; URL-encoded in the URL, JSON-escaped in the body.
struct GenericCall {
  std::string method;
  std::string url;
  std::string body;               // empty: none
  std::string reference_pointer;  // JSON Pointer to the gateway's id for the top-up
  std::string state_pointer;      // JSON Pointer to its state; absent in a 2xx answer: no such top-up
  bool operator==(const GenericCall&) const = default;
};

// `generic_http`'s top-up action: any HTTP API that takes a keyed request and can be
// asked about it by that key.
struct GenericTopUpConfig {
  bool enabled = false;  // the provider has a `top_up:` block
  GenericCall request;   // starts the top-up (default POST)
  GenericCall status;    // looks it up by its key (default GET); a 404 means none
  std::string amount_form = "minor";  // {amount}: minor (12345) | major (123.45)
  std::string idempotency_header;     // the header that carries {key}; or the body names {key}
  std::vector<std::pair<std::string, std::string>> states;  // gateway state → pending | succeeded | failed
  bool operator==(const GenericTopUpConfig&) const = default;
};

struct GenericHttpConfig {
  std::string method = "GET";
  std::string url;  // "{account}" is replaced by the account's id
  std::vector<std::pair<std::string, std::string>> headers;
  std::string basic_username;
  std::string basic_password;
  std::string bearer_token;
  std::string amount_pointer;    // RFC 6901, e.g. /data/balance
  std::string amount_form = "minor";  // minor | major | string
  std::string currency;          // fixed ISO code, or
  std::string currency_pointer;  // where the response names it
  GenericTopUpConfig top_up;
  bool operator==(const GenericHttpConfig&) const = default;
};

// How a provider's webhooks are checked: its `webhook:` block.
struct ProviderWebhookConfig {
  bool enabled = false;  // the provider has a `webhook:` block
  // stripe `secret` (whsec_…), snap `public_key` (PEM), midtrans_iris `merchant_key`,
  // xendit `callback_token`, flip `token`, generic_http `secret` (HMAC-SHA512).
  std::string secret;
  core::Duration tolerance{std::chrono::minutes(5)};  // stripe, snap, generic_http
  std::string header = "X-Signature";  // generic_http: where the signature is
  std::string encoding = "hex";        // generic_http: hex | base64
  std::string timestamp_header;        // generic_http: unix seconds, signed as "<t>.<body>"
  std::string event_id;                // generic_http: JSON Pointer to the event id
  std::vector<core::Cidr> allow_from;  // empty: only webhooks.allow_from applies
  bool operator==(const ProviderWebhookConfig&) const = default;
};

struct ProviderConfig {
  std::string name;
  // Empty only in a config that failed to load (a missing or unknown `type:`).
  std::optional<ProviderType> type;
  // HTTP gateways:
  HttpConfig http;
  std::string api_key;  // stripe, xendit, midtrans_iris, flip
  SnapConfig snap;
  GenericHttpConfig generic;
  ProviderWebhookConfig webhook;
  // sandbox:
  core::Duration settle_after{std::chrono::seconds(5)};
  std::uint64_t seed = 1;
  std::vector<SandboxAccountConfig> accounts;
  // Faults on top-up requests, to see how topupd handles unknown outcomes:
  int lose_answers_percent = 0;       // the movement is applied, then the answer is lost
  int fail_before_apply_percent = 0;  // a server error before anything is applied
  int decline_percent = 0;            // accepted, then declined by the bank: settles as failed
  int phantom_percent = 0;            // reported succeeded, never credited (a gateway bug)
  std::vector<std::string> decline_from;  // debits from these bank accounts are always declined
  // Deposits: a simulated person pays each ticket this long after it was issued, as a
  // person told of it would; 0: nobody does.
  core::Duration pay_tickets_after{0};

  const SandboxAccountConfig* find_sandbox_account(const std::string& id) const;
  // Whether the gateway has an API that moves money in (direct debit or sweep).
  bool can_move_money() const;
  // Two configs that would build the same provider (so a reload can keep its state).
  bool same_settings(const ProviderConfig& other) const;
};

// The webhook receiver (`webhooks:`): one HTTP(S) server for every provider's route.
struct WebhooksConfig {
  bool enabled = false;  // the section is present
  std::string host;
  std::uint16_t port = 0;
  std::string tls_cert;  // PEM chain; with tls_key turns TLS on
  std::string tls_key;
  std::vector<core::Cidr> allow_from;       // empty: any client
  std::vector<core::Cidr> trusted_proxies;  // whose X-Forwarded-For is believed
  std::size_t max_body = 64 * 1024;
  core::Duration timeout{std::chrono::seconds(10)};  // to receive headers and body
  std::size_t max_connections = 256;
  std::string snap_prefix;  // before the standard SNAP notification paths
  core::Duration keep_events_for{std::chrono::hours(24 * 30)};  // event ids remembered against redelivery
  bool operator==(const WebhooksConfig&) const = default;
};

// The API the company's backend calls (`api:`): bearer tokens, reads and demands.
struct ApiConfig {
  bool enabled = false;  // the section is present
  std::string host;
  std::uint16_t port = 0;
  std::string tls_cert;  // PEM chain; with tls_key turns TLS on (required beyond loopback)
  std::string tls_key;
  std::size_t max_body = 16 * 1024;
  core::Duration timeout{std::chrono::seconds(10)};  // to receive headers and body
  std::size_t max_connections = 64;
  bool operator==(const ApiConfig&) const = default;
};

// The web console (`console:`) for the people who decide about money: pages served by
// topupd itself, local users or identities from a trusted auth proxy.
struct ConsoleConfig {
  bool enabled = false;  // the section is present
  std::string host;
  std::uint16_t port = 0;
  std::string tls_cert;  // PEM chain; with tls_key turns TLS on (required beyond loopback)
  std::string tls_key;
  std::string url;       // how people reach it (links in notifications); empty: none
  std::string assets;    // the directory of its CSS, scripts and uPlot; empty: where it was installed
  core::Duration session_idle{std::chrono::minutes(30)};
  core::Duration session_max{std::chrono::hours(12)};
  core::Duration history_keep{std::chrono::hours(24 * 30)};  // balance history kept this long
  // auth: {proxy: …}: the identity comes from a header only trusted proxies may set.
  bool proxy = false;
  std::string proxy_header = "X-Forwarded-Email";
  std::string proxy_groups_header = "X-Forwarded-Groups";
  std::vector<core::Cidr> trusted_proxies;
  std::vector<std::pair<std::string, core::Role>> proxy_roles;  // group → role; the highest applies
  bool operator==(const ConsoleConfig&) const = default;
};

// Where alerts go. Every message goes through the durable outbox first.
struct NotifierConfig {
  std::string name;
  std::optional<NotifierType> type;  // empty only in a config that failed to load
  std::string url;                // slack: the incoming-webhook URL; webhook: where to POST; email: smtp(s)://host:port
  std::vector<std::string> urls;  // alertmanager: every instance's base URL
  std::string bot_token;          // telegram
  std::string chat_id;            // telegram
  std::string api_url = "https://api.telegram.org";  // telegram
  std::string secret;             // webhook: HMAC-SHA512 key of X-Topupd-Signature
  std::string starttls = "required";  // email: required | opportunistic | off (smtps:// is always TLS)
  std::string username;           // email: AUTH, when set
  std::string password;
  std::string from;               // email
  std::vector<std::string> to;    // email
  std::string body_template;      // webhook: the JSON body; empty: the standard one
  std::string text_template;      // every type: the message text; empty: the standard one
  std::string locale = "en";      // en | id-ID (Rp10.000.000)
  std::string dashboard_url;      // links added to every message
  std::string runbook_url;
  core::Duration group_wait{0};   // alerts firing within this go out as one message
  core::Duration resend{std::chrono::minutes(1)};  // alertmanager: re-send firing alerts
  int rate_per_second = 0;        // 0: the type's default (slack 1, telegram 1, others 10)
  core::Duration timeout{std::chrono::seconds(10)};
  std::string ca_file;
  std::optional<std::string> proxy;
  std::vector<std::string> event_types;  // events: the types this subscription wants
  bool operator==(const NotifierConfig&) const = default;
};

struct Config {
  std::string path;
  std::string timezone = "UTC";
  core::TimeZone zone = core::TimeZone::utc();  // `timezone`, loaded from the tz database
  bool dry_run = false;
  std::string log_level = "info";
  std::string control_socket;  // topupctl's Unix socket; empty: none
  std::string store_path;  // SQLite file; empty: kept in memory only (nothing survives a restart)
  std::string store_dsn;   // PostgreSQL (libpq connection string), instead of SQLite; a secret
  // PostgreSQL: how long an account's lease lasts unrenewed (leases.hpp) — how soon
  // another instance takes over from one that died.
  core::Duration store_lease{std::chrono::seconds(15)};
  // The pinned destinations file (config/destinations.hpp) and whether the config named
  // it: a named file must exist; the default one pins only when present.
  std::string destinations_path = "/etc/topupd/destinations.yaml";
  bool destinations_named = false;
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 9464;
  WebhooksConfig webhooks;
  ApiConfig api;
  ConsoleConfig console;
  std::vector<ProviderConfig> providers;
  std::vector<AccountConfig> accounts;
  std::vector<NotifierConfig> notifiers;
  std::vector<core::Rule> rules;
  std::vector<std::string> rule_paths;  // rule_paths[i]: where rules[i] was written ("rules[2]")
  SourceMap locations;
  // Where each account is in `accounts`, by name: find_account's index, so that looking
  // up every rule's account is not a walk of all accounts each (seconds at 30,000).
  // Built by index_accounts(), which the loader calls; a name the index does not know, or
  // finds elsewhere (accounts changed since), is looked for along the list.
  std::unordered_map<std::string, std::size_t> account_index;

  const ProviderConfig* find_provider(const std::string& name) const;
  const AccountConfig* find_account(const std::string& name) const;
  void index_accounts();
  const NotifierConfig* find_notifier(const std::string& name) const;
};

// Where `${env:…}`, `${file:…}` and `${cred:…}` come from; tests inject their own.
struct SecretSources {
  std::function<std::optional<std::string>(const std::string&)> env;
  std::function<std::optional<std::string>(const std::string&)> read_file;
  static SecretSources from_process();
};

struct LoadResult {
  std::optional<Config> config;          // set only when there are no diagnostics
  std::vector<Diagnostic> diagnostics;   // in file order
};

LoadResult load_file(const std::string& path, const SecretSources& secrets);
LoadResult load_string(const std::string& text, const std::string& path,
                       const SecretSources& secrets);

// `topupd sandbox`: the stand-alone gateway simulator. One entry per wire format.
struct SandboxGatewayConfig {
  std::string type;  // stripe | xendit | snap | midtrans_iris | flip | generic
  // Credentials and options by key, e.g. secret_key, webhook_secret, client_public_key.
  std::map<std::string, std::string> settings;
  std::string webhook_url;     // where settled movements are announced; empty: nowhere
  ProviderConfig simulation;   // accounts, settle_after, seed
  std::string setting(const std::string& key) const;
};

struct SandboxServerConfig {
  std::vector<SandboxGatewayConfig> gateways;
  const SandboxGatewayConfig* find(const std::string& type) const;
};

struct SandboxLoadResult {
  std::optional<SandboxServerConfig> config;
  std::vector<Diagnostic> diagnostics;
};

// The sandbox's own YAML file (see README "Stand-alone sandbox").
SandboxLoadResult load_sandbox_file(const std::string& path, const SecretSources& secrets);
SandboxLoadResult load_sandbox_string(const std::string& text, const std::string& path,
                                      const SecretSources& secrets);
// The built-in sandbox: every wire format except SNAP (which needs keys), with
// well-known test credentials and a few draining accounts.
SandboxServerConfig default_sandbox_config();

// Semantic checks on a typed config; pure.
std::vector<Diagnostic> validate(const Config& config);

// Warnings, not errors (the config loads): gateways whose accounts together ask for more
// balance reads per second than the gateway's rate_limit.per_second lets this process
// send. Pure; `topupd check` prints them and the daemon logs them at every load.
std::vector<Diagnostic> capacity_warnings(const Config& config);

extern const char* const kLogLevels[];

}  // namespace topupd::config
