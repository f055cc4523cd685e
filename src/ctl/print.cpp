// topupctl's printing (print.hpp).
#include "print.hpp"

#include <cstdio>

#include "topupd/adapters/qr/qr_image.hpp"

namespace topupctl {

std::string str(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "-";
  if (v.is_bool()) return v.as_bool() ? "yes" : "no";
  return json::serialize(v);
}

void print_status(const json::object& status) {
  std::printf("top-ups: %s%s\n", status.at("paused").as_bool() ? "PAUSED (topupctl resume to allow them)" : "allowed",
              status.at("dry_run").as_bool() ? " (dry run: none is sent)" : "");
  if (status.contains("destinations") && status.at("destinations").is_object()) {
    const auto& d = status.at("destinations").as_object();
    std::printf("destinations: pinned by %s (sha256 %s, %s accounts)\n\n", str(d.at("path")).c_str(),
                str(d.at("sha256")).c_str(), str(d.at("accounts")).c_str());
  } else {
    std::printf("destinations: not pinned\n\n");
  }
  const bool several = status.contains("instances") && status.at("instances").is_object();
  if (several) {
    const auto& i = status.at("instances").as_object();
    std::printf("instances sharing the store (lease %s; this one is %s):\n", str(i.at("lease")).c_str(),
                str(i.at("self")).c_str());
    std::printf("  %-40s %-25s %-25s %s\n", "INSTANCE", "STARTED", "HEARTBEAT", "ACCOUNTS");
    for (const auto& entry : i.at("instances").as_array()) {
      const auto& o = entry.as_object();
      std::printf("  %-40s %-25s %-25s %s\n", str(o.at("id")).c_str(), str(o.at("started_at")).c_str(),
                  str(o.at("heartbeat_at")).c_str(), str(o.at("accounts")).c_str());
    }
    std::printf("  accounts without an owner: %s\n", str(i.at("accounts_without_owner")).c_str());
    std::printf("  notifications sent by: %s\n\n",
                i.at("notifications_sent_by").is_string() ? str(i.at("notifications_sent_by")).c_str() : "nobody now");
  }
  std::printf("%-20s %24s  %-25s %-6s %s\n", "ACCOUNT", "BALANCE", "POLLED", "FRESH", "FAILED POLLS");
  for (const auto& a : status.at("accounts").as_array()) {
    const auto& o = a.as_object();
    if (several && o.contains("owned_here") && !o.at("owned_here").as_bool()) continue;  // its owner shows it
    std::printf("%-20s %24s  %-25s %-6s %s\n", str(o.at("name")).c_str(), str(o.at("balance")).c_str(),
                str(o.at("polled_at")).c_str(), str(o.at("fresh")).c_str(), str(o.at("consecutive_failures")).c_str());
  }
  std::printf("\n%-24s %-16s %-13s %-9s %-25s %s\n", "RULE", "ACCOUNT", "CONDITION", "STATE", "SINCE", "CAPS LEFT");
  for (const auto& r : status.at("rules").as_array()) {
    const auto& o = r.as_object();
    std::string caps;
    if (o.contains("caps_left")) {
      for (const auto& c : o.at("caps_left").as_array()) {
        const auto& cap = c.as_object();
        caps += (caps.empty() ? "" : ", ") + str(cap.at("cap")) + " " + str(cap.at("remaining"));
      }
    }
    std::printf("%-24s %-16s %-13s %-9s %-25s %s\n", str(o.at("name")).c_str(), str(o.at("account")).c_str(),
                str(o.at("condition")).c_str(), str(o.at("state")).c_str(), str(o.at("since")).c_str(),
                caps.empty() ? "-" : caps.c_str());
    if (o.contains("suspended") && o.at("suspended").is_string()) {
      std::printf("  SUSPENDED: %s (topupctl resume-rule %s)\n", str(o.at("suspended")).c_str(), str(o.at("name")).c_str());
    }
  }
  const auto& open = status.at("open_top_ups").as_array();
  std::printf("\n%zu top-up%s in flight\n", open.size(), open.size() == 1 ? "" : "s");
  for (const auto& t : open) {
    const auto& o = t.as_object();
    std::printf("  %s  %s %s  %s  (%s)\n", str(o.at("key")).c_str(), str(o.at("method")).c_str(),
                str(o.at("amount")).c_str(), str(o.at("state")).c_str(), str(o.at("rule")).c_str());
  }
  if (status.contains("silences") && !status.at("silences").as_array().empty()) {
    std::printf("\n%-24s %-8s %-25s %s\n", "SILENCED", "KIND", "UNTIL", "REASON");
    for (const auto& s : status.at("silences").as_array()) {
      const auto& o = s.as_object();
      std::printf("%-24s %-8s %-25s %s\n", str(o.at("target")).c_str(), str(o.at("kind")).c_str(),
                  str(o.at("expires_at")).c_str(), str(o.at("reason")).c_str());
    }
  }
}

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void print_tickets(const json::object& answer) {
  const auto& tickets = answer.at("tickets").as_array();
  for (const auto& t : tickets) {
    const auto& o = t.as_object();
    const auto& ticket = o.at("ticket").as_object();
    const std::string code = ticket.contains("qr") ? str(ticket.at("qr")) : "";
    if (!code.empty()) {
      // A QRIS code: drawn here, to be scanned off the screen, and its string for an app that takes text.
      std::printf("%s  pay exactly %s with QRIS code %s%s\n  paid by %s; %s  topup=%s rule=%s\n",
                  str(o.at("account")).c_str(), str(o.at("amount")).c_str(), str(ticket.at("reference")).c_str(),
                  ticket.at("expires_at").is_null() ? "" : (" before " + str(ticket.at("expires_at"))).c_str(),
                  str(o.at("paid_by")).c_str(), str(o.at("state")).c_str(), str(o.at("key")).c_str(),
                  str(o.at("rule")).c_str());
      if (const auto drawn = topupd::adapters::qr::terminal(code)) std::printf("%s", drawn->c_str());
      std::printf("  %s\n", code.c_str());
      continue;
    }
    std::printf("%s  pay exactly %s to %s %s (%s)%s\n  paid by %s; %s  topup=%s rule=%s\n",
                str(o.at("account")).c_str(), str(o.at("amount")).c_str(), str(ticket.at("bank")).c_str(),
                str(ticket.at("account_no")).c_str(), str(ticket.at("name")).c_str(),
                ticket.at("expires_at").is_null() ? "" : (" before " + str(ticket.at("expires_at"))).c_str(),
                str(o.at("paid_by")).c_str(), str(o.at("state")).c_str(), str(o.at("key")).c_str(),
                str(o.at("rule")).c_str());
  }
  std::printf("%zu open ticket%s\n", tickets.size(), tickets.size() == 1 ? "" : "s");
}

// token add: the secret, once; token list: the table; token revoke: what happened.
void print_tokens(const json::object& answer) {
  if (answer.contains("token")) {
    std::printf("%s\n", str(answer.at("token")).c_str());
    std::fprintf(stderr, "topupctl: the token above is shown once; topupd keeps only its hash\n");
    return;
  }
  if (!answer.contains("tokens")) {
    std::printf("%s\n", str(answer.at("message")).c_str());
    return;
  }
  std::printf("%-20s %-16s %-25s %-25s %s\n", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED");
  for (const auto& t : answer.at("tokens").as_array()) {
    const auto& o = t.as_object();
    std::string scopes;
    for (const auto& scope : o.at("scopes").as_array()) scopes += (scopes.empty() ? "" : ",") + str(scope);
    const auto when = [&](const char* field) { return o.at(field).is_null() ? std::string("-") : str(o.at(field)); };
    std::printf("%-20s %-16s %-25s %-25s %s\n", str(o.at("name")).c_str(), scopes.c_str(), str(o.at("created_at")).c_str(),
                when("last_used_at").c_str(), when("revoked_at").c_str());
  }
}

void print_history(const json::object& history, bool csv) {
  const auto& top_ups = history.at("top_ups").as_array();
  if (csv) {
    std::printf(
        "key,rule,account,provider,method,amount_minor,currency,state,reference,created_at,settled_at,rail,need,"
        "pays_bank,pays_account_no\n");
    for (const auto& t : top_ups) {
      const auto& o = t.as_object();
      std::string row;
      for (const char* column : {"key", "rule", "account", "provider", "method", "amount_minor", "currency", "state",
                                 "reference", "created_at", "settled_at", "rail", "need"}) {
        const auto& v = o.at(column);
        row += (row.empty() ? "" : ",") + csv_field(v.is_null() ? "" : str(v));
      }
      // A deposit: the bank and account its payment goes to.
      const bool ticket = o.contains("ticket") && o.at("ticket").is_object();
      row += "," + (ticket ? csv_field(str(o.at("ticket").as_object().at("bank"))) : std::string());
      row += "," + (ticket ? csv_field(str(o.at("ticket").as_object().at("account_no"))) : std::string());
      std::printf("%s\n", row.c_str());
    }
    return;
  }
  std::printf("%-25s %-20s %-14s %-13s %24s  %-18s %s\n", "CREATED", "RULE", "ACCOUNT", "METHOD", "AMOUNT", "STATE", "KEY");
  for (const auto& t : top_ups) {
    const auto& o = t.as_object();
    std::printf("%-25s %-20s %-14s %-13s %24s  %-18s %s\n", str(o.at("created_at")).c_str(), str(o.at("rule")).c_str(),
                str(o.at("account")).c_str(), str(o.at("method")).c_str(), str(o.at("amount")).c_str(),
                str(o.at("state")).c_str(), str(o.at("key")).c_str());
    if (o.contains("ticket") && o.at("ticket").is_object()) {
      const auto& ticket = o.at("ticket").as_object();
      std::printf("  pays %s %s (%s)\n", str(ticket.at("bank")).c_str(), str(ticket.at("account_no")).c_str(),
                  str(ticket.at("name")).c_str());
    }
    // Why it failed; or, for one that succeeded, what happened after (a reversed payout).
    if (o.contains("last_error") && !str(o.at("last_error")).empty()) {
      std::printf("  %s: %s\n", str(o.at("state")) == "succeeded" ? "needs attention" : "why",
                  str(o.at("last_error")).c_str());
    }
  }
  std::printf("%zu top-up%s\n", top_ups.size(), top_ups.size() == 1 ? "" : "s");
}

// user list: the table; user totp: the code to scan and its URI; others: what happened.
void print_users(const json::object& answer) {
  if (answer.contains("uri")) {
    const std::string uri = str(answer.at("uri"));
    std::printf("Scan this with an authenticator app (or enter the URI below):\n");
    if (const auto drawn = topupd::adapters::qr::terminal(uri)) std::printf("%s", drawn->c_str());
    std::printf("%s\n", uri.c_str());
    std::fprintf(stderr, "topupctl: the secret above is shown once; approvals by this user now ask for a code\n");
    return;
  }
  if (!answer.contains("users")) {
    std::printf("%s\n", str(answer.at("message")).c_str());
    return;
  }
  std::printf("%-24s %-9s %-5s %-25s %s\n", "NAME", "ROLE", "TOTP", "CREATED", "LOCKED UNTIL");
  for (const auto& u : answer.at("users").as_array()) {
    const auto& o = u.as_object();
    std::printf("%-24s %-9s %-5s %-25s %s\n", str(o.at("name")).c_str(), str(o.at("role")).c_str(),
                str(o.at("totp")).c_str(), str(o.at("created_at")).c_str(), str(o.at("locked_until")).c_str());
  }
}

void print_audit(const json::object& answer, bool csv) {
  const auto& entries = answer.at("entries").as_array();
  if (csv) std::printf("at,actor,action,detail\n");
  for (const auto& e : entries) {
    const auto& o = e.as_object();
    if (csv) {
      std::printf("%s,%s,%s,%s\n", csv_field(str(o.at("at"))).c_str(), csv_field(str(o.at("actor"))).c_str(),
                  csv_field(str(o.at("action"))).c_str(), csv_field(str(o.at("detail"))).c_str());
    } else {
      std::printf("%-25s %-28s %-28s %s\n", str(o.at("at")).c_str(), str(o.at("actor")).c_str(),
                  str(o.at("action")).c_str(), str(o.at("detail")).c_str());
    }
  }
  if (!csv) std::printf("%zu entr%s\n", entries.size(), entries.size() == 1 ? "y" : "ies");
}

}  // namespace topupctl
