// Config: `providers` (each gateway's keys and HTTP settings) and the stand-alone
// sandbox's file. See loader.hpp.
#include "loader.hpp"

namespace topupd::config::detail {

namespace {
const std::vector<std::string> kHttpKeys = {"base_url", "ca_file", "proxy", "timeouts", "rate_limit", "retries",
                                            "circuit_breaker"};
std::vector<std::string> provider_keys(const std::string& type) {
  std::vector<std::string> keys = {"type"};
  auto add = [&](std::initializer_list<const char*> more) { keys.insert(keys.end(), more.begin(), more.end()); };
  if (type == "sandbox") {
    add({"settle_after", "seed", "accounts", "faults", "pay_tickets_after"});
    return keys;
  }
  keys.insert(keys.end(), kHttpKeys.begin() + (type == "generic_http" ? 1 : 0), kHttpKeys.end());
  add({"webhook"});
  if (type == "stripe" || type == "xendit" || type == "midtrans_iris" || type == "flip") add({"api_key"});
  if (type == "snap") {
    add({"client_id", "client_secret", "private_key", "partner_id", "channel_id", "path_prefix", "balance_field",
         "signature_encoding", "utc_offset", "debit_source", "bank_code"});
  }
  if (type == "generic_http") add({"method", "url", "headers", "auth", "amount", "top_up"});
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
  if (const YAML::Node* node = map.get("top_up")) load_generic_top_up(*node, path + ".top_up", g.top_up);
}

void Loader::load_generic_top_up(const YAML::Node& node, const std::string& path, GenericTopUpConfig& out) {
  Map map(*this, node, path, {"request", "status", "amount_form", "idempotency_header", "states"});
  if (!map.valid()) return;
  out.enabled = true;
  const auto call = [&](const char* key, const char* method, const char* example, GenericCall& into) {
    const YAML::Node* call_node = map.get(key);
    if (!call_node) {
      map.missing(key, example);
      return;
    }
    Map c(*this, *call_node, path + "." + key, {"method", "url", "body", "reference", "state"});
    into.method = string_at(c, "method").value_or(method);
    if (auto url = string_at(c, "url")) into.url = *url;
    else if (c.valid() && !c.has("url")) c.missing("url", "the endpoint, with {account}, {key} … as needed");
    into.body = string_at(c, "body").value_or("");
    into.reference_pointer = string_at(c, "reference").value_or("");
    if (auto state = string_at(c, "state")) into.state_pointer = *state;
    else if (c.valid() && !c.has("state")) c.missing("state", "a JSON Pointer to the top-up's state, e.g. /data/status");
  };
  call("request", "POST", "how to start one: {url: …, body: …, state: /data/status}", out.request);
  call("status", "GET",
       "how to look one up by its key: an unknown outcome must be looked up, never sent blindly again "
       "(e.g. {url: \"https://…/topups?reference={key}\", state: /data/0/status})",
       out.status);
  if (auto form = string_at(map, "amount_form")) {
    if (*form == "minor" || *form == "major") out.amount_form = *form;
    else error(path + ".amount_form", config_.locations.find(path + ".amount_form"),
               fmt::format("unknown amount_form '{}'; expected minor (12345) or major (123.45)", *form));
  }
  out.idempotency_header = string_at(map, "idempotency_header").value_or("");
  if (const YAML::Node* states_node = map.get("states")) {
    Map states(*this, *states_node, path + ".states", {});
    bool succeeded = false, failed = false;
    for (const auto& [name, value] : states.entries()) {
      auto ours = scalar(value, path + ".states." + name);
      if (!ours) continue;
      if (ours->text != "pending" && ours->text != "succeeded" && ours->text != "failed") {
        error(path + ".states." + name, config_.locations.find(path + ".states." + name),
              fmt::format("'{}' is not a top-up state here; expected pending, succeeded or failed", ours->text));
        continue;
      }
      succeeded = succeeded || ours->text == "succeeded";
      failed = failed || ours->text == "failed";
      out.states.emplace_back(name, ours->text);
    }
    if (states.valid() && (!succeeded || !failed)) {
      error(path + ".states", states.location(),
            "name the gateway's states for succeeded and for failed (others are pending), e.g. "
            "{COMPLETED: succeeded, FAILED: failed, PENDING: pending}");
    }
  } else {
    map.missing("states", "the gateway's states as ours: {COMPLETED: succeeded, FAILED: failed, PENDING: pending}");
  }
  const bool key_in_body = out.request.body.find("{key}") != std::string::npos;
  if (out.idempotency_header.empty() && !key_in_body && map.has("request")) {
    error(path + ".idempotency_header", config_.locations.find(path + ".request"),
          "the top-up's key must reach the gateway: set idempotency_header (e.g. Idempotency-Key) or put {key} "
          "in request.body");
  }
  if (!out.status.url.empty() && out.status.url.find("{key}") == std::string::npos &&
      out.status.body.find("{key}") == std::string::npos) {
    error(path + ".status.url", config_.locations.find(path + ".status.url"),
          "the look-up must find the top-up by its key: put {key} in status.url (or status.body)");
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
    if (auto type_text = string_at(map, "type")) {
      provider.type = provider_type_named(*type_text);
      if (!provider.type) {
        error(path + ".type", config_.locations.find(path + ".type"),
              fmt::format("unknown provider type '{}'; supported: {}", *type_text, provider_type_names()));
      }
    } else if (!map.has("type")) {
      map.missing("type", "sandbox, stripe, xendit, snap, midtrans_iris, flip or generic_http");
    }
    if (provider.type != ProviderType::sandbox) {
      load_http_settings(map, provider);
      if (auto key = string_at(map, "api_key")) provider.api_key = *key;
      if (provider.type == ProviderType::snap) {
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
        if (auto v = string_at(map, "bank_code")) snap.bank_code = *v;
        if (snap.partner_id.empty()) snap.partner_id = snap.client_id;
      }
      if (provider.type == ProviderType::generic_http) load_generic(map, provider);
      if (const YAML::Node* webhook = map.get("webhook")) load_provider_webhook(*webhook, path, provider);
      config_.providers.push_back(std::move(provider));
      continue;
    }
    if (auto settle = duration_at(map, "settle_after")) provider.settle_after = *settle;
    if (auto seed = integer_at(map, "seed", 0, 999'999'999'999)) provider.seed = static_cast<std::uint64_t>(*seed);
    if (auto pay = duration_at(map, "pay_tickets_after")) provider.pay_tickets_after = *pay;
    if (const YAML::Node* faults_node = map.get("faults")) {
      Map faults(*this, *faults_node, path + ".faults",
                 {"lose_answers", "fail_before_apply", "decline", "decline_from", "phantom_credits"});
      if (auto lose = percent_at(faults, "lose_answers", 0, 100)) provider.lose_answers_percent = *lose;
      if (auto fail = percent_at(faults, "fail_before_apply", 0, 100)) provider.fail_before_apply_percent = *fail;
      if (auto decline = percent_at(faults, "decline", 0, 100)) provider.decline_percent = *decline;
      if (auto phantom = percent_at(faults, "phantom_credits", 0, 100)) provider.phantom_percent = *phantom;
      if (auto from = strings_at(faults, "decline_from")) provider.decline_from = *from;
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
      {"xendit",
       {"secret_key", "callback_token", "merchant_code", "deposit_bank", "deposit_account_no", "deposit_name",
        "payout_list_lag", "qris_fee"}},
      {"snap", {"client_id", "client_secret", "client_public_key", "private_key", "path_prefix", "partner_id", "bank_code"}},
      {"midtrans_iris", {"api_key", "merchant_key", "deposit_bank", "deposit_account_no", "deposit_name"}},
      {"flip", {"secret_key", "validation_token", "deposit_bank", "deposit_account_no", "deposit_name"}},
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
    gateway.simulation.type = ProviderType::sandbox;
    for (const auto& key : kSettings.at(type)) {
      if (key == "payout_list_lag" || key == "qris_fee") continue;  // read, and checked, below
      if (auto text = string_at(map, key)) gateway.settings[key] = *text;
    }
    // Xendit's: how far its payout list lags, and its QRIS fee (kept as basis points).
    if (auto lag = duration_at(map, "payout_list_lag")) gateway.settings["payout_list_lag"] = core::format_duration(*lag);
    if (const YAML::Node* fee = map.get("qris_fee")) {
      if (auto text = scalar(*fee, path + ".qris_fee")) {
        const auto basis_points = parse_percent(text->text);
        if (!basis_points || *basis_points > 1'000) {
          bad_value(path + ".qris_fee", *fee, *text, fmt::format("'{}' must be a percentage from 0 to 10, e.g. 0.7%",
                                                                  text->text),
                    "a percentage, e.g. 0.7%");
        } else {
          gateway.settings["qris_fee"] = std::to_string(*basis_points);
        }
      }
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

}  // namespace topupd::config::detail
