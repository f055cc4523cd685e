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
#include "history_csv.hpp"
#include "topupd/core/simulation.hpp"

namespace topupd::app {
namespace {

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
  std::ifstream history_file(options.history_path, std::ios::binary);
  if (!history_file) {
    std::fprintf(stderr, "%s: cannot open the history file\n", options.history_path.c_str());
    return 1;
  }
  std::vector<core::SimulationAccount> accounts;
  for (const auto& account : config.accounts) {
    accounts.push_back({account.name, account.currency, account.poll.every, account.poll.timeout});
  }
  Demands demands;
  if (!options.demands_path.empty()) {
    std::ifstream demands_file(options.demands_path);
    demands = demands_file ? read_demands(demands_file, options.demands_path, config)
                           : Demands{{}, options.demands_path + ": cannot open the demands file"};
    if (!demands.error.empty()) {
      std::fprintf(stderr, "%s\n", demands.error.c_str());
      return 1;
    }
  }
  // Each row is judged as it is read: the history is never held whole in memory. A bad
  // row ends it, and what the rows before it decided is not shown.
  core::Backtest backtest(config.rules, accounts, config.zone, options.settle_delay, demands.by_account);
  const HistoryRead history = read_history(history_file, options.history_path, config,
                                           [&](const core::HistoryRow& row) { backtest.add(row); });
  if (!history.error.empty()) {
    std::fprintf(stderr, "%s\n", history.error.c_str());
    return 1;
  }
  const auto result = backtest.finish();
  const std::string text = options.json ? json_of(result) : human_of(result, config.zone, history.rows);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace topupd::app
