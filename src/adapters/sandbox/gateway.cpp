// The stand-alone sandbox: routing by wire format, faults, the control API, the
// ledger and the webhooks it sends. See gateway_wire.hpp.
#include "gateway_wire.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

bool Fault::affects_requests() const {
  return remaining != 0 && (latency.count() > 0 || status != 0 || malformed || reset || hang);
}

Gateway::Gateway(const config::SandboxServerConfig& config, const core::Clock& clock) : clock_(clock) {
  for (const auto& gateway : config.gateways) {
    auto f = std::make_unique<Family>();
    f->config = gateway;
    f->sim = std::make_unique<SandboxProvider>(gateway.simulation, clock_);
    if (!gateway.simulation.accounts.empty()) f->default_account = gateway.simulation.accounts.front().id;
    families_[gateway.type] = std::move(f);
  }
}

Gateway::~Gateway() = default;

Gateway::Family* Gateway::family(const std::string& type) {
  auto it = families_.find(type);
  return it == families_.end() ? nullptr : it->second.get();
}

bool Gateway::draw(int percent) { return percent >= 100 || (percent > 0 && static_cast<int>(random_() % 100) < percent); }

net::ServerResponse Gateway::handle(const ServerRequest& request) {
  if (request.path.rfind("/_sandbox/", 0) == 0) return control(request);
  // Which wire format the path belongs to decides the fault that applies.
  std::string type;
  const std::string& p = request.path;
  if (p.rfind("/v1/", 0) == 0) type = "stripe";
  else if (p == "/balance" || p.rfind("/callback_virtual_account", 0) == 0 || p.rfind("/v2/payouts", 0) == 0 ||
           p.rfind("/qr_codes", 0) == 0 || p == "/payouts_channels") {
    type = "xendit";
  }
  else if (p.rfind("/iris/", 0) == 0) type = "midtrans_iris";
  else if (p.rfind("/v2/general/", 0) == 0 || p.rfind("/v3/general/", 0) == 0 || p == "/v3/disbursement" ||
           p == "/v3/get-disbursement") {
    type = "flip";
  }
  else if (p.rfind("/generic/", 0) == 0) type = "generic";
  else if (p.find("/v1.0/") != std::string::npos) type = "snap";
  Family* f = type.empty() ? nullptr : family(type);
  if (!f) return json_response(404, Value::object().set("error", Value::string("no such endpoint in the sandbox")));
  Fault& fault = f->fault;
  const bool hit = fault.affects_requests() && request.path.rfind(fault.path, 0) == 0 && draw(fault.rate_percent);
  if (hit && fault.remaining > 0) --fault.remaining;
  auto misbehave = [&](ServerResponse response) {
    response.delay = fault.latency;
    if (fault.reset) response.action = ServerResponse::Action::reset;
    else if (fault.hang) response.action = ServerResponse::Action::hang;
    else if (fault.malformed) response = ServerResponse{200, {{"Content-Type", "application/json"}}, "<html>Bad Gateway", fault.latency};
    else if (fault.status != 0) {
      response = json_response(fault.status, Value::object().set("error", Value::string("sandbox fault")));
      response.delay = fault.latency;
    }
    return response;
  };
  if (hit && !fault.after_apply) return misbehave(ServerResponse{});
  ServerResponse response = dispatch(request);
  if (hit) return misbehave(std::move(response));
  return response;
}

net::ServerResponse Gateway::dispatch(const ServerRequest& request) {
  const std::string& p = request.path;
  if (p.rfind("/v1/", 0) == 0) return stripe(*family("stripe"), request);
  if (p == "/balance") return xendit(*family("xendit"), request);
  if (p.rfind("/callback_virtual_account", 0) == 0) return xendit_virtual_accounts(*family("xendit"), request);
  if (p.rfind("/v2/payouts", 0) == 0 || p == "/payouts_channels") return xendit_payouts(*family("xendit"), request);
  if (p.rfind("/qr_codes", 0) == 0) return xendit_qr_codes(*family("xendit"), request);
  if (p.rfind("/iris/", 0) == 0) return iris(*family("midtrans_iris"), request);
  if (p.rfind("/v2/general/", 0) == 0 || p.rfind("/v3/general/", 0) == 0) return flip(*family("flip"), request);
  if (p == "/v3/disbursement" || p == "/v3/get-disbursement") return flip_disbursements(*family("flip"), request);
  if (p.rfind("/generic/", 0) == 0) return generic(*family("generic"), request);
  Family& f = *family("snap");
  const std::string prefix = f.config.setting("path_prefix");
  if (p.rfind(prefix + "/v1.0/", 0) != 0) {
    return snap_error(404, "00", "00", "Not Found");
  }
  return snap(f, request, p.substr(prefix.size() + 6));
}

// ---------------------------------------------------------------- control and webhooks

net::ServerResponse Gateway::control(const ServerRequest& request) {
  if (request.path == "/_sandbox/ledger" && request.method == "GET") return ServerResponse::json(200, ledger_json());
  if (request.path == "/_sandbox/healthz") return ServerResponse::json(200, "{\"ok\":true}");
  auto body = json::parse(request.body.empty() ? "{}" : request.body);
  if (!body || !body->is_object()) return json_response(400, Value::object().set("error", Value::string("expected a JSON object")));
  if (request.path == "/_sandbox/faults" && request.method == "DELETE") {
    for (auto& [type, f] : families_) f->fault = Fault{};
    return ServerResponse::json(200, "{\"cleared\":true}");
  }
  if (request.path == "/_sandbox/faults" && request.method == "POST") {
    const std::string type = body->string_at("provider").value_or("");
    Family* f = family(type);
    if (!f) return json_response(400, Value::object().set("error", Value::string("unknown provider '" + type + "'")));
    Fault fault;
    auto integer = [&](const char* key, long long low, long long high) -> std::optional<long long> {
      const Value* v = body->find(key);
      if (!v || !v->is_number() || v->text().find_first_not_of("0123456789") != std::string::npos || v->text().size() > 9) {
        return std::nullopt;
      }
      const long long n = std::stoll(v->text());
      return n < low || n > high ? std::nullopt : std::optional(n);
    };
    if (auto v = integer("latency_ms", 0, 3'600'000)) fault.latency = core::Duration(*v);
    if (auto v = integer("status", 100, 599)) fault.status = static_cast<int>(*v);
    if (auto v = integer("rate", 0, 100)) fault.rate_percent = static_cast<int>(*v);
    if (auto v = integer("count", 1, 1'000'000)) fault.remaining = static_cast<int>(*v);
    fault.path = body->string_at("path").value_or("");
    for (const char* flag : {"malformed", "reset", "hang", "after_apply", "duplicate_webhooks"}) {
      const Value* v = body->find(flag);
      const bool on = v && v->as_bool();
      if (std::string(flag) == "malformed") fault.malformed = on;
      else if (std::string(flag) == "reset") fault.reset = on;
      else if (std::string(flag) == "hang") fault.hang = on;
      else if (std::string(flag) == "after_apply") fault.after_apply = on;
      else fault.duplicate_webhooks = on;
    }
    f->fault = fault;
    return ServerResponse::json(200, "{\"ok\":true}");
  }
  if (request.path == "/_sandbox/pay" && request.method == "POST") return pay_as_a_person(*body);
  if (request.path.rfind("/_sandbox/payouts/", 0) == 0 && request.path.ends_with("/reverse") &&
      request.method == "POST") {
    return reverse_payout(request.path.substr(18, request.path.size() - 18 - 8));
  }
  if (request.path == "/_sandbox/snap/expire-tokens" && request.method == "POST") {
    // Every issued SNAP token stops working at once: clients must mint a new one.
    snap_tokens_.clear();
    return ServerResponse::json(200, "{\"ok\":true}");
  }
  if (request.path.rfind("/_sandbox/accounts/", 0) == 0 && request.method == "POST") {
    const std::string id = request.path.substr(19);
    Family* f = nullptr;
    if (auto named = body->string_at("provider")) {
      f = family(*named);
    } else {
      for (auto& [type, candidate] : families_) {
        if (candidate->sim->has_account(id)) f = candidate.get();
      }
    }
    if (!f || !f->sim->has_account(id)) {
      return json_response(404, Value::object().set("error", Value::string("no sandbox account '" + id + "'")));
    }
    SandboxProvider::AccountChange change;
    std::string problem;
    auto money_field = [&](const char* key, std::optional<Money>& out) {
      if (auto text = body->string_at(key)) {
        auto parsed = core::parse_money(*text);
        if (parsed.value) out = parsed.value;
        else problem = std::string(key) + ": " + parsed.error;
      }
    };
    std::optional<Money> credit;
    money_field("balance", change.balance);
    money_field("drain_per_minute", change.drain_per_minute);
    money_field("inflow_per_minute", change.inflow_per_minute);
    money_field("credit", credit);
    if (const Value* fail = body->find("fail"); fail && fail->is_number() && fail->text().size() <= 3 &&
                                                fail->text().find_first_not_of("0123456789") == std::string::npos) {
      change.fail_percent = std::min(100, std::stoi(fail->text()));
    }
    if (!problem.empty()) return json_response(400, Value::object().set("error", Value::string(problem)));
    if (!f->sim->set_account(id, change)) {
      return json_response(400, Value::object().set("error", Value::string("amounts must be in the account's currency")));
    }
    if (change.balance && f->config.type == "stripe" && !f->config.webhook_url.empty()) balance_events_.push_back(id);
    if (credit) {
      // A deposit from outside (e.g. a bank transfer into the gateway): a movement
      // that settles like a top-up and is announced by webhook.
      const TopUpRequest deposit{fmt::format("deposit:{}", ++sequence_), core::TopUpMethod::direct_debit, id,
                                 "external", *credit};
      auto receipt = f->sim->submit_now(deposit);
      if (!receipt) return json_response(400, Value::object().set("error", Value::string(receipt.error().message)));
    }
    return ServerResponse::json(200, "{\"ok\":true}");
  }
  return json_response(404, Value::object().set("error", Value::string("unknown sandbox control endpoint")));
}

std::string Gateway::ledger_json() {
  std::string entries, accounts;
  for (auto& [type, f] : families_) {
    auto document = json::parse(f->sim->ledger_json());
    if (!document) continue;
    if (const Value* list = document->find("entries")) {
      for (const auto& e : list->items()) {
        Value copy = Value::object().set("provider", Value::string(type));
        for (const auto& [k, v] : e.members()) copy.set(k, k == "id" ? Value::string(type + ":" + v.text()) : v);
        entries += (entries.empty() ? "" : ",") + copy.serialize();
      }
    }
    if (const Value* list = document->find("accounts")) {
      for (const auto& a : list->items()) {
        Value copy = Value::object().set("provider", Value::string(type));
        for (const auto& [k, v] : a.members()) copy.set(k, v);
        accounts += (accounts.empty() ? "" : ",") + copy.serialize();
      }
    }
  }
  return "{\"entries\":[" + entries + "],\"accounts\":[" + accounts + "]}";
}

std::vector<net::Request> Gateway::take_webhooks() {
  std::vector<net::Request> out;
  const auto now = clock_.now();
  if (Family* f = family("stripe"); f && !balance_events_.empty()) {
    // Stripe Connect names the connected account at the top of the event.
    for (const auto& account : balance_events_) {
      const auto available = f->sim->balance_now(account);
      if (!available) continue;
      net::Request hook;
      hook.method = "POST";
      hook.url = f->config.webhook_url;
      hook.headers.emplace_back("Content-Type", "application/json");
      hook.body = fmt::format(
          "{{\"id\":\"evt_sbx{:08}\",\"object\":\"event\",\"account\":{},\"api_version\":\"2024-06-20\","
          "\"created\":{},\"data\":{{\"object\":{{\"object\":\"balance\",\"available\":[{{\"amount\":{},"
          "\"currency\":{}}}],\"livemode\":false}}}},\"livemode\":false,\"pending_webhooks\":1,"
          "\"request\":{{\"id\":null,\"idempotency_key\":null}},\"type\":\"balance.available\"}}",
          ++sequence_, json_string(account), unix_seconds(now), available->minor(),
          json_string(lower(std::string(available->currency().code()))));
      sign_stripe(hook, f->config.setting("webhook_secret"), now);
      out.push_back(std::move(hook));
    }
  }
  balance_events_.clear();
  if (Family* f = family("xendit"); f && !payout_events_.empty()) {
    for (const auto& [id, event] : payout_events_) {
      if (auto hook = payout_webhook(*f, id, event)) out.push_back(std::move(*hook));
    }
  }
  payout_events_.clear();
  for (auto& [type, f] : families_) {
    const auto settled = f->sim->take_settled();
    for (std::size_t index : settled) {
      if (f->sim->ledger()[index].kind == core::TopUpMethod::deposit) credit_deposit(f->sim->ledger()[index]);
    }
    if (f->config.webhook_url.empty()) continue;
    const auto url = net::parse_url(f->config.webhook_url);
    if (!url) continue;
    for (std::size_t index : settled) {
      const SandboxLedgerEntry& entry = f->sim->ledger()[index];
      net::Request hook;
      hook.method = "POST";
      hook.url = f->config.webhook_url;
      hook.headers.emplace_back("Content-Type", "application/json");
      if (type == "stripe") {
        const StripeTopUp* topup = nullptr;
        for (const auto& [id, t] : stripe_topups_) {
          if (t.key == entry.idempotency_key) topup = &t;
        }
        if (!topup) continue;
        ++sequence_;
        const std::string key = entry.idempotency_key.substr(7);
        hook.body = fmt::format(
            "{{\"id\":\"evt_sbx{:08}\",\"object\":\"event\",\"api_version\":\"2024-06-20\",\"created\":{},"
            "\"data\":{{\"object\":{}}},\"livemode\":false,\"pending_webhooks\":1,"
            "\"request\":{{\"id\":null,\"idempotency_key\":{}}},\"type\":\"{}\"}}",
            sequence_, unix_seconds(now), stripe_topup_json(*topup),
            key.rfind("tu_", 0) == 0 ? "null" : json_string(key), entry.declined ? "topup.failed" : "topup.succeeded");
        sign_stripe(hook, f->config.setting("webhook_secret"), now);
      } else if (type == "snap") {
        std::string partner_reference;
        for (const auto& [ref, tx] : snap_transactions_) {
          if (tx.key == entry.idempotency_key) partner_reference = ref;
        }
        if (partner_reference.empty()) continue;
        hook.body = Value::object()
                        .set("originalPartnerReferenceNo", Value::string(partner_reference))
                        .set("originalReferenceNo", Value::string(entry.id))
                        .set("latestTransactionStatus", Value::string(entry.declined ? "06" : "00"))
                        .set("transactionStatusDesc", Value::string(entry.declined ? "Failed" : "Success"))
                        .set("amount", money_json(entry.amount))
                        .set("finishedTime", Value::string(snap_timestamp(now)))
                        .serialize();
        const std::string timestamp = snap_timestamp(now);
        const std::string path = url->target;
        auto signature = crypto::rsa_sha256_sign(f->config.setting("private_key"),
                                                 "POST:" + path + ":" + crypto::hex(crypto::sha256(hook.body)) + ":" + timestamp);
        if (!signature) continue;
        hook.headers.emplace_back("X-TIMESTAMP", timestamp);
        hook.headers.emplace_back("X-SIGNATURE", crypto::base64(*signature));
        hook.headers.emplace_back("X-PARTNER-ID", f->config.setting("client_id"));
        hook.headers.emplace_back("X-EXTERNAL-ID", fmt::format("{}", 900000000000 + ++sequence_));
        hook.headers.emplace_back("CHANNEL-ID", "95221");
      } else if (type == "xendit" && entry.idempotency_key.rfind("xpo:", 0) == 0) {
        const auto id = payout_of(entry.idempotency_key);
        auto payout = id ? payout_webhook(*f, *id, entry.declined ? "payout.failed" : "payout.succeeded") : std::nullopt;
        if (!payout) continue;
        hook = std::move(*payout);
      } else if (entry.declined) {
        continue;  // a deposit that never arrived is not announced
      } else if (type == "midtrans_iris") {
        hook.body = Value::object()
                        .set("transaction_id", Value::string(entry.id))
                        .set("order_id", Value::string(entry.idempotency_key))
                        .set("gross_amount", Value::string(decimal_text(entry.amount, 2)))
                        .set("status", Value::string("topup"))
                        .set("transaction_time", Value::string(core::format_rfc3339(now)))
                        .serialize();
        hook.headers.emplace_back("Iris-Signature",
                                  crypto::hex(crypto::sha512(hook.body + f->config.setting("merchant_key"))));
      } else if (type == "xendit" && entry.idempotency_key.rfind("qr:", 0) == 0) {
        auto paid = qr_code_paid(*f, entry);
        if (!paid) continue;
        hook = std::move(*paid);
      } else if (type == "xendit" && entry.idempotency_key.rfind("va:", 0) == 0) {
        auto paid = virtual_account_paid(*f, entry);
        if (!paid) continue;
        hook = std::move(*paid);
      } else if (type == "xendit") {
        hook.body = Value::object()
                        .set("id", Value::string(entry.id))
                        .set("event", Value::string("balance.credited"))
                        .set("account", Value::string(entry.account))
                        .set("amount", Value::number(decimal_text(entry.amount, 0)))
                        .set("currency", Value::string(std::string(entry.amount.currency().code())))
                        .set("created", Value::string(core::format_rfc3339(now)))
                        .serialize();
        hook.headers.emplace_back("x-callback-token", f->config.setting("callback_token"));
      } else {
        continue;
      }
      out.push_back(hook);
      if (f->fault.duplicate_webhooks) out.push_back(hook);
    }
  }
  return out;
}

}  // namespace topupd::adapters::sandbox
