// The console's pages that lead to a decision (console.hpp): top-ups waiting for
// approval — exactly what would happen, who approved already, how long until it expires,
// and the approve and reject forms (plain HTML: money never needs JavaScript) — one
// top-up with its history, and the alerts with their silence and acknowledge forms.
#include <fmt/format.h>

#include "console.hpp"
#include "console_html.hpp"

namespace topupd::app {

using html::esc;

namespace {

std::string optional_time(const std::optional<core::Timestamp>& at) { return at ? core::format_rfc3339(*at) : "-"; }

// What a waiting top-up will do, and the forms to decide it for those who may.
// The account's balance around the decision: the history's last point at or before it
// (recorded once a minute), or, before the history has one, the balance now.
struct BalanceShown {
  std::optional<core::Money> money;
  std::optional<core::Timestamp> recorded_at;  // set: a point of the history
};

BalanceShown balance_shown(adapters::ConsoleStore& history, const std::vector<ConsoleAccount>& accounts,
                           const core::TopUpRecord& r) {
  BalanceShown shown;
  for (const auto& p : history.balance_history(r.account, r.created_at - std::chrono::hours(1))) {
    if (p.at <= r.created_at) shown = {core::Money(p.minor, r.amount.currency()), p.at};
  }
  if (shown.recorded_at) return shown;
  for (const auto& a : accounts) {
    if (a.name == r.account) shown.money = a.balance;
  }
  return shown;
}

std::string decision_panel(const core::TopUpRecord& r, const std::vector<core::Approval>& approvals,
                           const core::Rule* rule, const BalanceShown& balance,
                                  core::Timestamp now, bool may_decide, bool ask_code, const std::string& csrf) {
  const int needed = core::approvers_needed(r.amount, rule && rule->top_up ? rule->top_up->limits.dual_approval_above
                                                                           : std::nullopt);
  const auto approvers = core::counted_approvers(r, approvals);
  std::string names;
  for (const auto& name : approvers) names += (names.empty() ? "" : ", ") + name;
  const core::Duration limit = rule && rule->top_up ? rule->top_up->limits.approval_expires : std::chrono::hours(24);
  const core::Duration left = r.created_at + limit - now;
  std::string out = fmt::format(
      R"(<dl class="what"><dt>Amount</dt><dd class="amount">{}</dd><dt>From</dt><dd>{}</dd><dt>To</dt><dd>{} at {}{}</dd>)"
      R"(<dt>Rule</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>Method</dt><dd>{}</dd>)"
      R"(<dt>Expires</dt><dd>{}</dd><dt>Approvals</dt><dd class="approvals">{} of {} needed{}</dd></dl>)",
      esc(core::format_human(r.amount)), esc(r.source.empty() ? "-" : r.source), esc(r.destination_id),
      esc(r.provider), r.ticket_provider.empty() ? "" : esc(" (a deposit ticket from " + r.ticket_provider + ")"),
      esc(r.rule), balance.recorded_at ? "Account's balance before the decision" : "Account's balance now",
      !balance.money ? "-"
      : balance.recorded_at
          ? esc(fmt::format("{} (recorded {}; decided {})", core::format_human(*balance.money),
                            core::format_rfc3339(*balance.recorded_at), core::format_rfc3339(r.created_at)))
          : esc(core::format_human(*balance.money)),
      core::to_string(r.method),
      left.count() > 0 ? "in " + esc(core::format_duration(std::chrono::duration_cast<std::chrono::minutes>(left)))
                       : "now",
      approvers.size(), needed, names.empty() ? "" : " (" + esc(names) + ")");
  if (!may_decide) return out + "<p>Only approvers decide about top-ups.</p>";
  const std::string code = ask_code ? R"(<label>One-time code <input name="code" inputmode="numeric" required></label>)" : "";
  const std::string base = "/approvals/" + html::url(r.key);
  out += html::form_open(base + "/approve", csrf, "decide approve") + code +
         R"(<button type="submit" name="approve">Approve</button></form>)";
  out += html::form_open(base + "/reject", csrf, "decide reject") + code +
         R"(<label>Reason <input name="reason" required maxlength="500"></label>)"
         R"(<button type="submit" name="reject">Reject</button></form>)";
  return out;
}

}  // namespace

ConsoleServer::Response ConsoleServer::approvals(const Viewer& viewer, const std::string& note) {
  const core::Timestamp now = clock_.now();
  std::string items;
  std::size_t count = 0;
  const auto accounts = neighbours_.accounts();
  for (const auto& r : neighbours_.open_top_ups()) {
    if (r.state != core::TopUpState::awaiting_approval) continue;
    ++count;
    items += fmt::format(R"(<article class="waiting" id="{}"><h2><a href="/top-ups/{}">{}</a> · {}</h2>{}</article>)",
                         esc(r.key), html::url(r.key), esc(r.key), esc(r.account),
                         decision_panel(r, store_.approvals(r.key), neighbours_.rule(r.rule),
                                        balance_shown(store_.console(), accounts, r), now,
                                        core::may(viewer.role, core::Action::approve), viewer.has_totp, csrf_of(viewer)));
  }
  std::string body = note.empty() ? "" : "<p class=\"note\">" + esc(note) + "</p>";
  body += count ? items : "<p id=\"none\">No top-up waits for approval.</p>";
  return page(viewer, "Approvals", body);
}

ConsoleServer::Response ConsoleServer::top_up(const std::string& key, const Viewer& viewer, const std::string& note) {
  std::optional<core::TopUpRecord> found;
  for (auto& r : neighbours_.open_top_ups()) {
    if (r.key == key) found = std::move(r);
  }
  if (!found) {
    for (auto& r : store_.top_ups_created_since(core::Timestamp{})) {
      if (r.key == key) found = std::move(r);
    }
  }
  if (!found) return page(viewer, "Not found", "<p>No top-up has the key " + esc(key) + ".</p>", 404);
  const core::TopUpRecord& r = *found;
  std::string body = note.empty() ? "" : "<p class=\"note\" id=\"note\">" + esc(note) + "</p>";
  body += fmt::format(R"(<p>State: <strong class="state {0}" id="state">{0}</strong>{1}</p>)", core::to_string(r.state),
                      r.last_error.empty() ? "" : " — " + esc(r.last_error));
  if (r.state == core::TopUpState::awaiting_approval) {
    body += decision_panel(r, store_.approvals(r.key), neighbours_.rule(r.rule),
                           balance_shown(store_.console(), neighbours_.accounts(), r), clock_.now(),
                           core::may(viewer.role, core::Action::approve), viewer.has_totp, csrf_of(viewer));
  } else {
    body += fmt::format(R"(<dl class="what"><dt>Amount</dt><dd>{}</dd><dt>Account</dt><dd>{}</dd><dt>Rule</dt><dd>{}</dd>)"
                        R"(<dt>Reference at the gateway</dt><dd>{}</dd><dt>Settled</dt><dd>{}</dd></dl>)",
                        esc(core::format_human(r.amount)), esc(r.account), esc(r.rule),
                        esc(r.reference.empty() ? "-" : r.reference), esc(optional_time(r.settled_at)));
  }
  std::string rows;
  for (const auto& t : store_.transitions(key)) {
    rows += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(core::format_rfc3339(t.at)),
                        t.from ? core::to_string(*t.from) : "-", core::to_string(t.to), esc(t.note));
  }
  body += fmt::format(R"(<h2>History</h2><table id="transitions"><thead><tr><th>When</th><th>From</th><th>To</th>)"
                      R"(<th>Note</th></tr></thead><tbody>{}</tbody></table>)",
                      rows);
  return page(viewer, "Top-up " + key, body);
}

ConsoleServer::Response ConsoleServer::alerts(const Viewer& viewer, const std::string& note) {
  const bool may_silence = core::may(viewer.role, core::Action::silence);
  const std::string csrf = csrf_of(viewer);
  std::string rows;
  for (const auto& a : neighbours_.alerts()) {
    std::string actions;
    if (may_silence) {
      for (const char* kind : {"ack", "silence"}) {
        actions += html::form_open("/alerts/silence", csrf, "inline") +
                   fmt::format(R"(<input type="hidden" name="target" value="{}"><input type="hidden" name="kind" value="{}">)"
                               R"(<input name="duration" value="{}" size="4"><input name="reason" placeholder="reason">)"
                               R"(<button type="submit">{}</button></form>)",
                               esc(a.rule), kind, kind == std::string("ack") ? "24h" : "2h",
                               kind == std::string("ack") ? "Acknowledge" : "Silence");
      }
    }
    rows += fmt::format(R"(<tr><td>{}</td><td>{}</td><td>{}</td><td class="phase {}">{}</td><td>{}</td><td>{}</td></tr>)",
                        esc(a.rule), esc(a.account), esc(a.condition), esc(a.phase), esc(a.phase),
                        esc(optional_time(a.since)), actions);
  }
  std::string silenced;
  for (const auto& s : neighbours_.silences()) {
    const std::string lift = may_silence ? html::form_open("/alerts/unsilence", csrf, "inline") +
                                               fmt::format(R"(<input type="hidden" name="target" value="{}">)"
                                                           R"(<button type="submit">Lift</button></form>)",
                                                           esc(s.target))
                                         : "";
    silenced += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(s.target),
                            adapters::to_string(s.kind), esc(core::format_rfc3339(s.expires_at)), esc(s.reason), lift);
  }
  std::string body = note.empty() ? "" : "<p class=\"note\">" + esc(note) + "</p>";
  body += fmt::format(
      R"(<h2>Firing and pending</h2><table id="alerts"><thead><tr><th>Rule</th><th>Account</th><th>Condition</th>)"
      R"(<th>State</th><th>Since</th><th></th></tr></thead><tbody>{}</tbody></table>)"
      R"(<h2>Silenced and acknowledged</h2><table id="silences"><thead><tr><th>Rule or account</th><th>Kind</th>)"
      R"(<th>Until</th><th>Reason</th><th></th></tr></thead><tbody>{}</tbody></table>)",
      rows.empty() ? R"(<tr><td colspan="6">Nothing fires.</td></tr>)" : rows,
      silenced.empty() ? R"(<tr><td colspan="5">Nothing is silenced.</td></tr>)" : silenced);
  return page(viewer, "Alerts", body);
}

}  // namespace topupd::app
