// The console's pages (console.hpp): the frame around each, sign-in, the overview with
// its chart's data, the journal (and its CSV) and the audit log. Approvals and alerts
// are in console_approvals.cpp. Every value written into a page goes through html::esc.
#include <algorithm>

#include <fmt/format.h>

#include "console.hpp"
#include "console_html.hpp"
#include "topupd/adapters/json.hpp"

namespace topupd::app {

using adapters::json_string;
using html::esc;

namespace {

std::string runway_text(const std::optional<core::Duration>& runway) {
  if (!runway) return "-";
  return core::format_duration(std::chrono::duration_cast<std::chrono::minutes>(*runway));
}

std::int64_t unix_seconds(core::Timestamp at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

std::string csv_cell(const std::string& value) {
  // A cell a spreadsheet would run as a formula is quoted as text.
  std::string text = value;
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@')) text = "'" + text;
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

ConsoleServer::Response ConsoleServer::page(const Viewer& viewer, const std::string& title, const std::string& body,
                                            int status) const {
  const std::string csrf = csrf_of(viewer);
  std::size_t waiting = 0;
  for (const auto& record : neighbours_.open_top_ups()) {
    waiting += record.state == core::TopUpState::awaiting_approval ? 1 : 0;
  }
  const bool paused = neighbours_.paused();
  std::string pause_form;
  if (core::may(viewer.role, core::Action::pause)) {
    pause_form = html::form_open(paused ? "/resume" : "/pause", csrf, "inline") +
                 fmt::format(R"(<button type="submit">{}</button></form>)",
                             paused ? "Resume top-ups" : "Pause all top-ups");
  }
  const std::string sign_out =
      config_.proxy ? "" : html::form_open("/logout", csrf, "inline") + R"(<button type="submit">Sign out</button></form>)";
  std::string out = fmt::format(
      R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{} · topupd</title>)"
      R"(<meta name="viewport" content="width=device-width, initial-scale=1">)"
      R"(<link rel="stylesheet" href="/assets/console.css"><link rel="stylesheet" href="/assets/uPlot.min.css">)"
      R"(</head><body><header><nav><strong>topupd</strong> <a href="/">Overview</a> <a href="/top-ups">Top-ups</a> )"
      R"(<a href="/alerts">Alerts</a> <a href="/approvals">Approvals{}</a> <a href="/audit">Audit</a>{}</nav>)"
      R"(<div class="who"><span id="user">{}</span> ({}) {}{}</div></header>{}<main><h1>{}</h1>{}</main>)"
      R"(<script src="/assets/uPlot.iife.min.js"></script><script src="/assets/console.js"></script></body></html>)",
      esc(title), waiting ? fmt::format(" <span class=\"badge\">{}</span>", waiting) : "",
      core::may(viewer.role, core::Action::manage_users) && !config_.proxy ? R"( <a href="/users">Users</a>)" : "",
      esc(viewer.user),
      core::to_string(viewer.role), pause_form, sign_out,
      paused ? R"(<p class="banner">Top-ups are paused: none starts until an admin resumes them.</p>)" : "", esc(title),
      body);
  return html::respond(status, "text/html; charset=utf-8", std::move(out));
}

ConsoleServer::Response ConsoleServer::login_page(const std::string& message, const std::string& user) const {
  std::string body = fmt::format(
      R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign in · topupd</title>)"
      R"(<link rel="stylesheet" href="/assets/console.css"></head><body class="login"><main><h1>topupd</h1>{})"
      R"(<form method="post" action="/login"><label>Name <input name="user" autocomplete="username" value="{}" required></label>)"
      R"(<label>Password <input type="password" name="password" autocomplete="current-password" required></label>)"
      R"(<label>One-time code (if you enrolled one) <input name="code" inputmode="numeric" autocomplete="one-time-code"></label>)"
      R"(<button type="submit">Sign in</button></form></main></body></html>)",
      message.empty() ? "" : "<p class=\"error\" id=\"message\">" + esc(message) + "</p>", esc(user));
  return html::respond(message.empty() || message.rfind("Your session", 0) == 0 ? 200 : 401, "text/html; charset=utf-8",
                       std::move(body));
}

ConsoleServer::Response ConsoleServer::overview(const Request& request, const Viewer& viewer) {
  const auto query = html::params(request.query);
  const std::string search = html::param(query, "q");
  const std::string sort = html::param(query, "sort").empty() ? "runway" : html::param(query, "sort");
  std::vector<ConsoleAccount> accounts = neighbours_.accounts();
  if (!search.empty()) {
    std::erase_if(accounts, [&](const ConsoleAccount& a) {
      return a.name.find(search) == std::string::npos && a.provider.find(search) == std::string::npos;
    });
  }
  std::stable_sort(accounts.begin(), accounts.end(), [&](const ConsoleAccount& a, const ConsoleAccount& b) {
    if (sort == "name") return a.name < b.name;
    // Shortest runway first; accounts without one after them, by name.
    if (a.runway.has_value() != b.runway.has_value()) return a.runway.has_value();
    if (a.runway && *a.runway != *b.runway) return *a.runway < *b.runway;
    return a.name < b.name;
  });
  // The chart shows the account asked for; else the first whose rule fires; else the first listed.
  std::string chosen = html::param(query, "account");
  for (const auto& a : accounts) {
    if (!chosen.empty()) break;
    for (const auto& rule : a.rules) {
      if (rule.phase == "firing" && chosen.empty()) chosen = a.name;
    }
  }
  if (chosen.empty() && !accounts.empty()) chosen = accounts.front().name;
  const std::string range = html::param(query, "range") == "7d" ? "7d" : "24h";
  std::string rows;
  for (const auto& a : accounts) {
    std::string thresholds, states;
    for (const auto& rule : a.rules) {
      if (rule.threshold) thresholds += (thresholds.empty() ? "" : "<br>") + esc(rule.condition + " " + core::format_human(*rule.threshold));
      states += fmt::format("{}<span class=\"phase {}\">{}: {}</span>", states.empty() ? "" : "<br>", esc(rule.phase),
                            esc(rule.name), esc(rule.phase));
    }
    rows += fmt::format(
        R"(<tr class="account"><td><a href="/?account={}&amp;sort={}&amp;q={}">{}</a></td><td>{}</td><td class="num">{}</td>)"
        R"(<td>{}</td><td class="num">{}</td><td class="{}">{}{}</td><td>{}</td></tr>)",
        html::url(a.name), html::url(sort), html::url(search), esc(a.name), esc(a.provider),
        a.balance ? esc(core::format_human(*a.balance)) : "-", thresholds.empty() ? "-" : thresholds,
        esc(runway_text(a.runway)), a.fresh ? "fresh" : "stale", a.fresh ? "fresh" : "stale",
        a.failed_polls ? fmt::format(" ({} failed polls)", a.failed_polls) : "", states.empty() ? "-" : states);
  }
  std::string chart;
  if (!chosen.empty()) {
    chart = fmt::format(
        R"(<section class="chart"><h2>{} <small><a href="/?account={}&amp;range=24h&amp;sort={}">24 h</a> · )"
        R"(<a href="/?account={}&amp;range=7d&amp;sort={}">7 d</a></small></h2>)"
        R"(<div id="chart" data-account="{}" data-range="{}"></div><p class="legend">Balance, thresholds (dashed) and )"
        R"(top-ups: planned <span class="planned">●</span> succeeded <span class="succeeded">●</span> failed )"
        R"(<span class="failed">●</span></p></section>)",
        esc(chosen), html::url(chosen), html::url(sort), html::url(chosen), html::url(sort), esc(chosen), range);
  }
  const std::string note = html::param(query, "note");
  std::string body = fmt::format(
      R"({}{}<form method="get" action="/" class="search"><input name="q" value="{}" placeholder="account or provider">)"
      R"(<select name="sort"><option value="runway"{}>shortest runway first</option><option value="name"{}>by name</option>)"
      R"(</select><button type="submit">Show</button></form><p>{} account{}</p>)"
      R"(<table id="accounts"><thead><tr><th>Account</th><th>Provider</th><th>Balance</th><th>Thresholds</th><th>Runway</th>)"
      R"(<th>Polled</th><th>Rules</th></tr></thead><tbody>{}</tbody></table>)",
      note.empty() ? "" : "<p class=\"note\">" + esc(note) + "</p>", chart, esc(search),
      sort == "runway" ? " selected" : "", sort == "name" ? " selected" : "", accounts.size(),
      accounts.size() == 1 ? "" : "s", rows);
  return page(viewer, "Overview", body);
}

ConsoleServer::Response ConsoleServer::history_json(const Request& request) {
  const auto query = html::params(request.query);
  const std::string account = html::param(query, "account");
  const auto span = html::param(query, "range") == "7d" ? std::chrono::hours(24 * 7) : std::chrono::hours(24);
  const core::Timestamp from = clock_.now() - span;
  std::optional<ConsoleAccount> found;
  for (auto& a : neighbours_.accounts()) {
    if (a.name == account) found = std::move(a);
  }
  if (!found) return html::respond(404, "application/json", R"({"error":"no such account"})");
  std::string points;
  for (const auto& p : store_.console().balance_history(account, from)) {
    points += fmt::format("{}[{},{}]", points.empty() ? "" : ",", unix_seconds(p.at), p.minor);
  }
  // The latest poll too, so that the line reaches now.
  if (found->balance && found->observed_at && *found->observed_at >= from) {
    points += fmt::format("{}[{},{}]", points.empty() ? "" : ",", unix_seconds(*found->observed_at), found->balance->minor());
  }
  std::string thresholds;
  for (const auto& rule : found->rules) {
    if (!rule.threshold) continue;
    thresholds += fmt::format("{}{{\"rule\":{},\"minor\":{}}}", thresholds.empty() ? "" : ",", json_string(rule.name),
                              rule.threshold->minor());
  }
  std::string top_ups;
  for (const auto& r : store_.top_ups_created_since(from)) {
    if (r.account != account) continue;
    top_ups += fmt::format("{}{{\"t\":{},\"state\":{},\"minor\":{},\"key\":{}}}", top_ups.empty() ? "" : ",",
                           unix_seconds(r.created_at), json_string(core::to_string(r.state)), r.amount.minor(),
                           json_string(r.key));
  }
  return html::respond(200, "application/json",
                       fmt::format(R"({{"account":{},"currency":{},"exponent":{},"from":{},"to":{},"points":[{}],)"
                                   R"("thresholds":[{}],"top_ups":[{}]}})",
                                   json_string(account), json_string(found->currency.code()),
                                   found->currency.exponent(), unix_seconds(from), unix_seconds(clock_.now()), points,
                                   thresholds, top_ups));
}

ConsoleServer::Response ConsoleServer::top_ups(const Request& request, const Viewer& viewer, bool csv) {
  const auto query = html::params(request.query);
  const std::string account = html::param(query, "account");
  const std::string rule = html::param(query, "rule");
  const std::string state = html::param(query, "state");
  const auto day = [&](const std::string& name) -> std::optional<core::Timestamp> {
    const std::string text = html::param(query, name);
    if (text.empty()) return std::nullopt;
    return core::parse_rfc3339(text + "T00:00:00Z");
  };
  const auto from = day("from");
  const auto to = day("to");
  std::vector<core::TopUpRecord> records;
  for (auto& r : store_.top_ups_created_since(from.value_or(clock_.now() - std::chrono::hours(24 * 30)))) {
    if (!account.empty() && r.account != account) continue;
    if (!rule.empty() && r.rule != rule) continue;
    if (!state.empty() && core::to_string(r.state) != state) continue;
    if (to && r.created_at >= *to + std::chrono::hours(24)) continue;
    records.push_back(std::move(r));
  }
  std::reverse(records.begin(), records.end());  // newest first
  if (csv) {
    std::string out = "key,created_at,rule,account,method,amount_minor,currency,amount,state,reference,last_error\r\n";
    for (const auto& r : records) {
      out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\r\n", csv_cell(r.key), core::format_rfc3339(r.created_at),
                         csv_cell(r.rule), csv_cell(r.account), core::to_string(r.method), r.amount.minor(),
                         r.amount.currency().code(), csv_cell(core::format_decimal(r.amount)), core::to_string(r.state),
                         csv_cell(r.reference), csv_cell(r.last_error));
    }
    Response response = html::respond(200, "text/csv; charset=utf-8", std::move(out));
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"top-ups.csv\"");
    return response;
  }
  constexpr std::size_t kShown = 1000;
  std::string rows;
  for (std::size_t i = 0; i < records.size() && i < kShown; ++i) {
    const auto& r = records[i];
    rows += fmt::format(
        R"(<tr><td>{}</td><td><a href="/top-ups/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td>)"
        R"(<td class="state {}">{}</td></tr>)",
        esc(core::format_rfc3339(r.created_at)), html::url(r.key), esc(r.key), esc(r.rule), esc(r.account),
        core::to_string(r.method), esc(core::format_human(r.amount)), core::to_string(r.state),
        core::to_string(r.state));
  }
  std::string states = R"(<option value="">any state</option>)";
  for (auto s : core::kAllTopUpStates) {
    states += fmt::format(R"(<option value="{0}"{1}>{0}</option>)", core::to_string(s),
                          state == core::to_string(s) ? " selected" : "");
  }
  const std::string filters = fmt::format("account={}&rule={}&state={}&from={}&to={}", html::url(account),
                                          html::url(rule), html::url(state), html::url(html::param(query, "from")),
                                          html::url(html::param(query, "to")));
  std::string body = fmt::format(
      R"(<form method="get" action="/top-ups" class="search"><input name="account" value="{}" placeholder="account">)"
      R"(<input name="rule" value="{}" placeholder="rule"><select name="state">{}</select>)"
      R"(<label>from <input type="date" name="from" value="{}"></label><label>to <input type="date" name="to" value="{}"></label>)"
      R"(<button type="submit">Show</button></form><p>{} top-up{}{} · <a href="/top-ups.csv?{}">CSV</a></p>)"
      R"(<table id="top-ups"><thead><tr><th>Created</th><th>Key</th><th>Rule</th><th>Account</th><th>Method</th>)"
      R"(<th>Amount</th><th>State</th></tr></thead><tbody>{}</tbody></table>)",
      esc(account), esc(rule), states, esc(html::param(query, "from")), esc(html::param(query, "to")), records.size(),
      records.size() == 1 ? "" : "s", records.size() > kShown ? fmt::format(" (the newest {} shown)", kShown) : "",
      esc(filters), rows);
  return page(viewer, "Top-ups", body);
}

ConsoleServer::Response ConsoleServer::audit_page(const Request& request, const Viewer& viewer) {
  const auto query = html::params(request.query);
  const auto since = core::parse_rfc3339(html::param(query, "since") + "T00:00:00Z");
  auto entries = store_.api().audit_log(since.value_or(core::Timestamp{}), 500);
  std::reverse(entries.begin(), entries.end());
  std::string rows;
  for (const auto& e : entries) {
    rows += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(core::format_rfc3339(e.at)),
                        esc(e.actor), esc(e.action), esc(e.detail));
  }
  std::string body = fmt::format(
      R"(<p>Every sign-in, approval, rejection, silence, acknowledgement, pause and resume, from the console, )"
      R"(the API and topupctl; append-only. The newest 500 are shown; <code>topupctl audit --csv</code> exports all.</p>)"
      R"(<form method="get" action="/audit" class="search"><label>since <input type="date" name="since" value="{}"></label>)"
      R"(<button type="submit">Show</button></form><table id="audit"><thead><tr><th>When</th><th>Who</th><th>What</th>)"
      R"(<th>Detail</th></tr></thead><tbody>{}</tbody></table>)",
      esc(html::param(query, "since")), rows);
  return page(viewer, "Audit", body);
}

}  // namespace topupd::app
