// The API's demands: announcing one (idempotent on its reference) and listing them.
// See api.hpp.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api_http.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::json_string;
using api_http::answer;
using api_http::demand_json;
using api_http::error;
using api_http::query_of;
using api_http::ServerRequest;
using api_http::ServerResponse;

namespace {

bool valid_reference(const std::string& text) {
  if (text.empty() || text.size() > 128) return false;
  return std::all_of(text.begin(), text.end(), [](unsigned char c) {
    // No '/': a reference is a path segment of GET and DELETE /api/v1/demands/{reference}.
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

}  // namespace

std::string api_http::demand_json(const adapters::Demand& d) {
  return fmt::format(
      "{{\"reference\":{},\"account\":{},\"amount_minor\":{},\"amount\":{},\"currency\":{},\"due_at\":{},"
      "\"created_at\":{},\"created_by\":{}}}",
      json_string(d.reference), json_string(d.account), d.amount.minor(), json_string(core::format_decimal(d.amount)),
      json_string(d.amount.currency().code()), json_string(core::format_rfc3339(d.due_at)),
      json_string(core::format_rfc3339(d.created_at)), json_string(d.created_by));
}

ServerResponse ApiServer::post_demand(const ServerRequest& request, const Caller& caller) {
  const auto type = request.header("Content-Type");
  if (!type || type->compare(0, 16, "application/json") != 0) {
    return error(415, "send the demand as application/json");
  }
  const auto body = adapters::json::parse(request.body, 8);
  if (!body || !body->is_object()) return error(400, "the body is not a JSON object");
  static const std::set<std::string> kFields = {"reference", "account", "amount", "amount_minor", "currency", "due_at"};
  for (const auto& [name, value] : body->members()) {
    if (!kFields.count(name)) return error(400, fmt::format("unknown field {}", name));
  }
  const auto reference = body->string_at("reference");
  if (!reference || !valid_reference(*reference)) {
    return error(400, "reference: 1 to 128 letters, digits and - _ . : — the backend's own id for this payout");
  }
  const auto account_name = body->string_at("account");
  if (!account_name) return error(400, "account: the name of an account in topupd's config");
  const config::AccountConfig* account = neighbours_.account(*account_name);
  if (!account) return error(422, fmt::format("no account is named {}", *account_name));
  const core::Currency currency = account->currency;
  if (const auto code = body->string_at("currency"); code && *code != currency.code()) {
    return error(422, fmt::format("account {} holds {}, not {}", *account_name, currency.code(), *code));
  }
  if (body->find("currency") && !body->string_at("currency")) return error(400, "currency: a code such as IDR");
  // The amount: a decimal string in the account's currency, or whole minor units.
  const adapters::json::Value* decimal = body->find("amount");
  const adapters::json::Value* minor = body->find("amount_minor");
  if ((decimal != nullptr) == (minor != nullptr)) {
    return error(400, "give the amount once: amount as a decimal string (\"2500000.00\") or amount_minor");
  }
  std::optional<core::Money> amount;
  if (decimal) {
    if (!decimal->is_string()) return error(400, "amount is a decimal string, e.g. \"2500000.00\"");
    const core::MoneyParse parsed = core::parse_decimal_amount(decimal->text(), currency);
    if (!parsed.value) return error(400, "amount: " + parsed.error);
    amount = parsed.value;
  } else {
    const std::string& text = minor->text();
    const bool digits = (minor->is_number() || minor->is_string()) && !text.empty() && text.size() <= 18 &&
                        std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits) return error(400, "amount_minor is a whole number of minor units");
    amount = core::Money(std::stoll(text), currency);
  }
  if (!amount->is_positive()) return error(422, "the amount must be more than 0");
  const auto due_text = body->string_at("due_at");
  const auto due_at = due_text ? core::parse_rfc3339(*due_text) : std::nullopt;
  if (!due_at) return error(400, "due_at: an RFC 3339 time with an offset, e.g. 2026-12-25T09:00:00+07:00");
  const core::Timestamp now = clock_.now();
  if (*due_at <= now) return error(422, "due_at has passed: a demand announces a payout still to come");

  const adapters::Demand demand{*reference, *account_name, *amount, *due_at, now,
                                caller.actor.substr(caller.actor.find(':') + 1)};
  switch (store_.api().put_demand(demand)) {
    case adapters::DemandPut::created:
      spdlog::info("demand announced reference={} account={} amount={} due_at={} by={}", field(demand.reference),
                   field(demand.account), field(core::format_human(demand.amount)),
                   core::format_rfc3339(demand.due_at), field(caller.actor));
      if (neighbours_.demands_changed) neighbours_.demands_changed(demand.account);
      return answer(201, demand_json(demand));
    case adapters::DemandPut::same:
      return answer(200, demand_json(store_.api().demand(demand.reference).value_or(demand)));
    case adapters::DemandPut::conflict:
      break;
  }
  const auto existing = store_.api().demand(demand.reference);
  return answer(409, fmt::format("{{\"error\":{},\"demand\":{}}}",
                                 json_string("a demand with this reference exists with other fields; "
                                             "withdraw it first (DELETE) to change it"),
                                 existing ? demand_json(*existing) : "null"));
}

ServerResponse ApiServer::demands(const ServerRequest& request) {
  std::string bad;
  const auto query = query_of(request, {"account", "from"}, bad);
  if (!query) return error(400, fmt::format("unknown query parameter {}", bad));
  core::Timestamp from = clock_.now();
  if (const auto it = query->find("from"); it != query->end()) {
    const auto parsed = core::parse_rfc3339(it->second);
    if (!parsed) return error(400, "from needs an RFC 3339 time with an offset");
    from = *parsed;
  }
  std::string out;
  for (const auto& demand : store_.api().demands(from)) {
    if (const auto it = query->find("account"); it != query->end() && demand.account != it->second) continue;
    out += (out.empty() ? "" : ",") + demand_json(demand);
  }
  return answer(200, fmt::format("{{\"demands\":[{}]}}", out));
}

}  // namespace topupd::app
