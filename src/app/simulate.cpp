// `topupd simulate`: backtest the config's rules against a recorded balance history.
#include "simulate.hpp"

#include <cstdio>
#include <algorithm>
#include <fstream>
#include <map>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "topupd/adapters/json.hpp"
#include "topupd/core/simulation.hpp"

namespace topupd::app {
namespace {

struct History {
  std::vector<core::HistoryRow> rows;
  std::string error;  // "FILE:LINE: message"
};

// Calls `line` with each line of `in` (without its '\n') until it returns false, reading
// blocks rather than a line at a time: a history of millions of rows goes at the speed
// of the disk. False when reading failed.
template <class Line>
bool for_each_line(std::istream& in, Line&& line) {
  std::vector<char> block(1 << 20);
  std::string carried;  // a line cut by the end of a block
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const std::string_view chunk(block.data(), static_cast<std::size_t>(in.gcount()));
    std::size_t position = 0;
    while (position < chunk.size()) {
      const std::size_t newline = chunk.find('\n', position);
      if (newline == std::string_view::npos) {
        carried.append(chunk.substr(position));
        break;
      }
      const std::string_view piece = chunk.substr(position, newline - position);
      position = newline + 1;
      if (carried.empty()) {
        if (!line(piece)) return true;
      } else {
        carried.append(piece);
        if (!line(std::string_view(carried))) return true;
        carried.clear();
      }
    }
  }
  if (in.bad()) return false;
  if (!carried.empty()) line(std::string_view(carried));
  return true;
}

History read_history(const std::string& path, const config::Config& config) {
  History out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = fmt::format("{}: cannot open the history file", path);
    return out;
  }
  // Room for every row at once when the size is known (a row takes 25 bytes or more);
  // pages never written cost nothing.
  in.seekg(0, std::ios::end);
  if (const auto size = in.tellg(); size >= 0) {
    out.rows.reserve(static_cast<std::size_t>(size) / 25);
    in.seekg(0, std::ios::beg);
  }
  in.clear();  // a pipe cannot seek, and is read from where it is
  std::map<std::string, core::Currency, std::less<>> currencies;
  for (const auto& account : config.accounts) currencies.emplace(account.name, account.currency);
  std::size_t number = 0;
  auto fail = [&](const std::string& message) {
    out.error = fmt::format("{}:{}: {}", path, number, message);
    out.rows.clear();
    return false;
  };
  const bool read = for_each_line(in, [&](std::string_view text) {
    ++number;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (number == 1) {
      return text == "timestamp,account,balance" || fail("the header must be: timestamp,account,balance");
    }
    if (text.empty()) return true;
    const auto first = text.find(',');
    const auto second = first == std::string_view::npos ? std::string_view::npos : text.find(',', first + 1);
    if (second == std::string_view::npos || text.find(',', second + 1) != std::string_view::npos) {
      return fail("expected three fields: timestamp,account,balance");
    }
    const auto at = core::parse_rfc3339(text.substr(0, first));
    if (!at) return fail(fmt::format("'{}' is not an RFC 3339 time with an offset", text.substr(0, first)));
    const std::string_view account = text.substr(first + 1, second - first - 1);
    auto currency = currencies.find(account);
    if (currency == currencies.end()) return fail(fmt::format("unknown account '{}'", account));
    auto balance = core::parse_decimal_amount(text.substr(second + 1), currency->second);
    if (!balance.value) return fail(fmt::format("bad balance: {}", balance.error));
    if (!out.rows.empty() && *at < out.rows.back().at) {
      return fail(fmt::format("time goes backwards ({} is before the previous row)", text.substr(0, first)));
    }
    out.rows.push_back({*at, std::string(account), *balance.value});
    return true;
  });
  if (!read) {
    out.error = fmt::format("{}: cannot read the history file", path);
    out.rows.clear();
  } else if (number == 0) {
    fail("the file is empty; the header must be: timestamp,account,balance");
  }
  return out;
}

struct Demands {
  std::map<std::string, std::vector<core::DueDemand>> by_account;
  std::string error;  // FILE:LINE: message
};

// account,reference,amount,due_at — the API's demand fields, one per line.
Demands read_demands(const std::string& path, const config::Config& config) {
  Demands out;
  std::ifstream in(path);
  if (!in) {
    out.error = fmt::format("{}: cannot open the demands file", path);
    return out;
  }
  std::string line;
  std::size_t number = 0;
  auto fail = [&](const std::string& message) { out.error = fmt::format("{}:{}: {}", path, number, message); };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      if (line != "account,reference,amount,due_at") {
        fail("the header must be: account,reference,amount,due_at");
        return out;
      }
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1) {
      cells.push_back(line.substr(start, comma - start));
    }
    cells.push_back(line.substr(start));
    if (cells.size() != 4) {
      fail("expected 4 fields: account,reference,amount,due_at");
      return out;
    }
    const config::AccountConfig* account = config.find_account(cells[0]);
    if (!account) {
      fail(fmt::format("no account named '{}' in the config", cells[0]));
      return out;
    }
    const core::MoneyParse amount = core::parse_decimal_amount(cells[2], account->currency);
    if (!amount.value || !amount.value->is_positive()) {
      fail(amount.value ? "the amount must be more than 0" : "amount: " + amount.error);
      return out;
    }
    const auto due = core::parse_rfc3339(cells[3]);
    if (!due) {
      fail("due_at needs an RFC 3339 time with an offset, e.g. 2026-12-25T09:00:00+07:00");
      return out;
    }
    out.by_account[cells[0]].push_back({cells[1], *amount.value, *due});
  }
  if (number == 0) fail("the file is empty; the header must be: account,reference,amount,due_at");
  return out;
}

std::string json_of(const core::SimulationResult& result) {
  using adapters::json_string;
  std::string out = "{\"events\":[";
  for (std::size_t i = 0; i < result.events.size(); ++i) {
    const auto& e = result.events[i];
    out += fmt::format("{}{{\"time\":{},\"rule\":{},\"account\":{},\"type\":{},{}\"currency\":{},\"reason\":{}}}",
                       i == 0 ? "" : ",", json_string(core::format_rfc3339(e.at)), json_string(e.rule),
                       json_string(e.account), json_string(e.type),
                       e.amount ? fmt::format("\"amount_minor\":{},", e.amount->minor()) : "",
                       json_string(e.currency.code()), json_string(e.reason));
  }
  out += "],\"accounts\":{";
  bool first = true;
  for (const auto& [name, a] : result.accounts) {
    auto minor = [](const std::optional<core::Money>& m) { return m ? std::to_string(m->minor()) : "null"; };
    out += fmt::format(
        "{}{}:{{\"currency\":{},\"alerts\":{},\"top_ups\":{},\"top_up_total_minor\":{},\"sweeps_in_total_minor\":{},"
        "\"sweeps_out_total_minor\":{},\"min_balance_minor\":{},\"min_balance_without_topupd_minor\":{}}}",
        first ? "" : ",", json_string(name), json_string(a.top_up_total.currency().code()), a.alerts, a.top_ups,
        a.top_up_total.minor(), a.sweeps_in_total.minor(), a.sweeps_out_total.minor(), minor(a.min_balance),
        minor(a.min_balance_without_topupd));
    first = false;
  }
  out += "},\"demands\":[";
  for (std::size_t i = 0; i < result.demands.size(); ++i) {
    const auto& d = result.demands[i];
    out += fmt::format(
        "{}{{\"account\":{},\"reference\":{},\"amount_minor\":{},\"due_at\":{},\"covered\":{},"
        "\"balance_at_due_minor\":{},\"after_history\":{},\"funded_at\":{},\"funded_by\":{}}}",
        i == 0 ? "" : ",", json_string(d.account), json_string(d.demand.reference), d.demand.amount.minor(),
        json_string(core::format_rfc3339(d.demand.due_at)), d.covered ? "true" : "false",
        d.balance_at_due ? std::to_string(d.balance_at_due->minor()) : "null", d.after_history ? "true" : "false",
        d.funded_at ? json_string(core::format_rfc3339(*d.funded_at)) : "null",
        d.funded_by.empty() ? "null" : json_string(d.funded_by));
  }
  out += "]}\n";
  return out;
}

std::string human_of(const core::SimulationResult& result, const core::TimeZone& zone, std::size_t rows) {
  std::string out;
  for (const auto& e : result.events) {
    const char* label = e.type == "alert_firing"     ? "ALERT FIRING"
                        : e.type == "alert_resolved" ? "ALERT RESOLVED"
                        : e.type == "sweep"          ? "SWEEP"
                                                     : "TOP-UP";
    out += fmt::format("{}  {:<14}  {}  {}{}  {}\n", core::format_local(e.at, zone), label, e.rule, e.account,
                       e.amount ? "  " + core::format_human(*e.amount) : "", e.reason);
  }
  if (result.events.empty()) out += "No alert, top-up or sweep would have happened.\n";
  out += fmt::format("\n{} history rows, {} events.\n\n", rows, result.events.size());
  out += fmt::format("{:<16} {:>6} {:>7} {:>24} {:>24} {:>24} {:>24} {:>24}\n", "account", "alerts", "top-ups",
                     "top-up total", "swept in", "swept out", "lowest balance", "lowest without topupd");
  for (const auto& [name, a] : result.accounts) {
    auto money = [](const std::optional<core::Money>& m) { return m ? core::format_human(*m) : std::string("-"); };
    out += fmt::format("{:<16} {:>6} {:>7} {:>24} {:>24} {:>24} {:>24} {:>24}\n", name, a.alerts, a.top_ups,
                       core::format_human(a.top_up_total), core::format_human(a.sweeps_in_total),
                       core::format_human(a.sweeps_out_total), money(a.min_balance), money(a.min_balance_without_topupd));
  }
  if (!result.demands.empty()) {
    out += "\nDemands:\n";
    for (const auto& d : result.demands) {
      out += fmt::format("{}  {}  {}  {}  {}{}{}\n", core::format_local(d.demand.due_at, zone), d.account,
                         d.demand.reference, core::format_human(d.demand.amount),
                         d.covered ? "covered" : "NOT COVERED",
                         d.balance_at_due ? " (balance " + core::format_human(*d.balance_at_due) +
                                                (d.after_history ? " at the end of the history)" : " when due)")
                                          : " (no balance before it was due)",
                         d.funded_at ? "; funded " + core::format_local(*d.funded_at, zone) + " by " + d.funded_by
                                     : "; no top-up counted it");
    }
  }
  return out;
}

}  // namespace

int simulate(const config::Config& config, const SimulateOptions& options) {
  const History history = read_history(options.history_path, config);
  if (!history.error.empty()) {
    std::fprintf(stderr, "%s\n", history.error.c_str());
    return 1;
  }
  std::vector<core::SimulationAccount> accounts;
  for (const auto& account : config.accounts) {
    accounts.push_back({account.name, account.currency, account.poll.every, account.poll.timeout});
  }
  Demands demands;
  if (!options.demands_path.empty()) {
    demands = read_demands(options.demands_path, config);
    if (!demands.error.empty()) {
      std::fprintf(stderr, "%s\n", demands.error.c_str());
      return 1;
    }
  }
  const auto result =
      core::simulate(config.rules, accounts, config.zone, history.rows, options.settle_delay, demands.by_account);
  const std::string text = options.json ? json_of(result) : human_of(result, config.zone, history.rows.size());
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace topupd::app
