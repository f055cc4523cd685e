// The soak's verdict on money, from outside: the journal read straight from SQLite
// and the sandbox's ledger of every movement, in every currency.
//
// Each top-up's money-moving leg has a known key at its payer: a Stripe top-up
// "stripe:KEY", a SNAP transfer "snap:" + its partner reference, a Xendit payout
// "xpo:KEY". Per record: at most one movement (else a duplicate); succeeded only with
// its movement settled, not declined and — for a deposit — credited exactly once;
// failed with no movement, or one the bank declined; never open at the end (else
// lost). A movement under a top-up key no record holds was not journalled first. And a
// rule's top-ups on one day, by the journal's times, within its max_per_day.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "crash/crash_harness.hpp"
#include "soak/soak_config.hpp"
#include "topupd/adapters/providers/http_providers.hpp"

namespace topupd::testing {

struct SoakRecord {
  std::string key, rule, state;
  std::int64_t created_ms = 0;
};

inline std::vector<SoakRecord> soak_journal(const std::string& db_path) {
  std::vector<SoakRecord> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT key, rule, state, created_at FROM top_ups ORDER BY created_at", -1, &statement, nullptr) ==
        SQLITE_OK) {
      while (sqlite3_step(statement) == SQLITE_ROW) {
        auto text = [&](int column) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, column))); };
        out.push_back({text(0), text(1), text(2), sqlite3_column_int64(statement, 3)});
      }
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return out;
}

// Every recorded webhook event as "provider event_id type", for a failure to show.
inline std::vector<std::string> webhook_event_rows(const std::string& db_path) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT provider, event_id, type FROM webhook_events ORDER BY received_at", -1, &statement,
                           nullptr) == SQLITE_OK) {
      while (sqlite3_step(statement) == SQLITE_ROW) {
        std::string row;
        for (int column = 0; column < 3; ++column) {
          row += (column ? " " : "") + std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, column)));
        }
        out.push_back(row);
      }
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return out;
}

inline int webhook_events_recorded(const std::string& db_path) {
  int n = -1;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM webhook_events", -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      n = sqlite3_column_int(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return n;
}

struct SoakMovement {
  std::string provider, key, source;
  bool settled = false, declined = false;
};

inline std::vector<SoakMovement> soak_movements(const std::string& ledger) {
  std::vector<SoakMovement> out;
  const std::regex entry(
      R"#(\{"provider":"([a-z_]+)","id":"[^"]*","kind":"[a-z_]+","account":"[^"]*","source":"([^"]*)","amount_minor":\d+,"currency":"[A-Z]{3}","idempotency_key":"([^"]+)","created_at":"[^"]*","settled":(true|false),"declined":(true|false))#");
  for (auto it = std::sregex_iterator(ledger.begin(), ledger.end(), entry); it != std::sregex_iterator(); ++it) {
    out.push_back({(*it)[1], (*it)[3], (*it)[2], (*it)[4] == "true", (*it)[5] == "true"});
  }
  return out;
}

struct SoakVerdict {
  std::map<std::string, int> by_rule_and_state;  // "rule state" → records
  int moved = 0;                                 // records whose money moved and settled
  int duplicates = 0, lost = 0, unjournalled = 0, double_credits = 0;
  std::vector<std::string> problems;
};

inline SoakVerdict judge_soak(const std::vector<SoakRecord>& journal, const std::vector<SoakMovement>& ledger) {
  SoakVerdict v;
  std::map<std::string, const SoakRecord*> record_of;  // money key → record
  std::map<std::string, bool> deposit;                 // money key → credited at the funded gateway
  for (const auto& r : journal) {
    ++v.by_rule_and_state[r.rule + " " + r.state];
    const auto leg = kTopUpRules.find(r.rule);
    if (leg == kTopUpRules.end()) continue;
    const bool stripe = leg->second == MoneyLeg::stripe_debit;
    const std::string key = stripe ? "stripe:" + r.key
                            : leg->second == MoneyLeg::snap_transfer ? "snap:" + adapters::snap_partner_reference(r.key)
                                                                     : "xpo:" + r.key;
    record_of[key] = &r;
    deposit[key] = !stripe;
  }
  std::map<std::string, std::vector<const SoakMovement*>> moves;
  std::map<std::string, int> credits;
  for (const auto& m : ledger) {
    const bool paying = m.provider == "stripe" || m.provider == "snap" || m.key.rfind("xpo:", 0) == 0;
    if (!paying) {
      if (m.source != "external" && m.source != "person" && !m.source.empty() && ++credits[m.source] > 1) {
        ++v.double_credits;
      }
      continue;
    }
    if (!record_of.count(m.key)) {
      ++v.unjournalled;
      v.problems.push_back("movement without a journal record: " + m.provider + " " + m.key);
      continue;
    }
    moves[m.key].push_back(&m);
  }
  for (const auto& [key, r] : record_of) {
    const auto& ms = moves[key];
    if (ms.size() > 1) {
      v.duplicates += static_cast<int>(ms.size()) - 1;
      v.problems.push_back(fmt::format("{} moved money {} times", r->key, ms.size()));
    }
    const SoakMovement* m = ms.size() == 1 ? ms.front() : nullptr;
    const bool paid = m && m->settled && !m->declined;
    bool right = false;
    if (r->state == "succeeded") right = paid && (!deposit[key] || credits[key] == 1);
    else if (r->state == "failed") right = !m || (m->settled && m->declined);
    else if (r->state == "rejected" || r->state == "expired") right = !m;
    if (paid) ++v.moved;
    if (!right) {
      ++v.lost;
      v.problems.push_back(fmt::format("{} ({}) ended {} but its money: {}", r->key, r->rule, r->state,
                                       !m ? "none moved" : !m->settled ? "not settled" : m->declined ? "declined" : "moved"));
    }
  }
  return v;
}

// The most top-ups `rule` counted toward its caps on one day in Asia/Jakarta (UTC+7, no
// daylight saving), by the journal's creation times: what max_per_day bounds, whatever
// the wall clock did in between.
inline int most_in_a_day(const std::vector<SoakRecord>& journal, const std::string& rule) {
  std::map<std::int64_t, int> per_day;
  int most = 0;
  for (const auto& r : journal) {
    if (r.rule != rule || r.state == "failed" || r.state == "rejected" || r.state == "expired") continue;
    most = std::max(most, ++per_day[(r.created_ms / 1000 + 7 * 3600) / 86400]);
  }
  return most;
}

}  // namespace topupd::testing
