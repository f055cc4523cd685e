// Top-ups and times as JSON: see records_json.hpp.
#include "records_json.hpp"

#include <fmt/format.h>

#include "topupd/adapters/json.hpp"

namespace topupd::app {

using adapters::json_string;

std::string control_failure(const std::string& message) {
  return fmt::format("{{\"ok\":false,\"error\":{}}}", json_string(message));
}

std::string optional_time(const std::optional<core::Timestamp>& at) {
  return at ? json_string(core::format_rfc3339(*at)) : "null";
}

std::string ticket_json(const core::TopUpRecord& r) {
  if (!r.ticket) return "null";
  const core::DepositTicket& t = *r.ticket;
  return fmt::format(
      "{{\"reference\":{},\"bank\":{},\"account_no\":{},\"name\":{},\"expires_at\":{},\"qr\":{}}}",
      json_string(t.reference), json_string(t.bank), json_string(t.account_no), json_string(t.name),
      optional_time(t.expires_at), json_string(t.qr));
}

std::string json_of(const core::TopUpRecord& r) {
  return fmt::format(
      "{{\"key\":{},\"rule\":{},\"account\":{},\"provider\":{},\"method\":{},\"amount_minor\":{},\"currency\":{},"
      "\"amount\":{},\"state\":{},\"reference\":{},\"last_error\":{},\"created_at\":{},\"settled_at\":{},"
      "\"rail\":{},\"need\":{},\"ticket\":{}}}",
      json_string(r.key), json_string(r.rule), json_string(r.account), json_string(r.provider),
      json_string(core::to_string(r.method)), r.amount.minor(), json_string(r.amount.currency().code()),
      json_string(core::format_human(r.amount)), json_string(core::to_string(r.state)), json_string(r.reference),
      json_string(r.last_error), json_string(core::format_rfc3339(r.created_at)), optional_time(r.settled_at),
      r.rail + 1, json_string(r.need.empty() ? r.key : r.need), ticket_json(r));
}

}  // namespace topupd::app
