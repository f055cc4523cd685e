// What the deposit and payout campaigns read from the sandbox's ledgers, and the one
// verdict they both pass: each journalled top-up moved money at most once, ended as the
// bank or channel decided, and what settled was credited exactly once.
#pragma once

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "crash/crash_harness.hpp"
#include "integration/sandbox.hpp"

namespace topupd::testing {

struct Movement {
  std::string provider;
  std::string account;  // a transfer's or payout's destination label: "va:NUMBER", "static:TYPE"
  std::string source;   // a credit's: the key of the movement that paid it
  std::int64_t amount_minor = 0;
  std::string key;
  bool settled = false;
  bool declined = false;
};

inline std::vector<Movement> movements(const Sandbox& sandbox) {
  std::vector<Movement> out;
  const std::string text = sandbox.ledger();
  const std::regex entry(
      R"#(\{"provider":"([a-z_]+)","id":"[^"]*","kind":"[a-z_]+","account":"([^"]*)","source":"([^"]*)","amount_minor":(\d+),"currency":"IDR","idempotency_key":"([^"]+)","created_at":"[^"]*","settled":(true|false),"declined":(true|false))#");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
    out.push_back({(*it)[1], (*it)[2], (*it)[3], std::stoll((*it)[4]), (*it)[5], (*it)[6] == "true",
                   (*it)[7] == "true"});
  }
  return out;
}

struct Verdict {
  int duplicates = 0;  // more than one movement for one top-up
  int lost = 0;        // not ended as the bank decided: no movement, unsettled, or the other outcome
  int declined = 0;
  int uncredited = 0;  // settled and not declined, but not credited exactly once
  std::string lost_records;  // one line per lost record: its key, state and movements
  std::vector<std::string> lost_keys;
};

// `moves_of`: each record's money-moving movements; `credits_of`: credits per paying
// movement's key. Neither is added to: their sizes stay what the ledger holds.
inline Verdict judge(const std::vector<Record>& journal,
                     const std::map<std::string, std::vector<const Movement*>>& moves_of,
                     const std::map<std::string, int>& credits_of) {
  Verdict v;
  static const std::vector<const Movement*> kNone;
  for (const auto& r : journal) {
    const auto found = moves_of.find(r.key);
    const auto& moves = found == moves_of.end() ? kNone : found->second;
    if (moves.size() > 1) v.duplicates += static_cast<int>(moves.size()) - 1;
    const Movement* m = moves.size() == 1 ? moves.front() : nullptr;
    const bool as_decided =
        m && m->settled && ((r.state == "succeeded" && !m->declined) || (r.state == "failed" && m->declined));
    if (!as_decided) {
      ++v.lost;
      v.lost_keys.push_back(r.key);
      v.lost_records += "\n  " + r.key + " " + r.state + ":";
      for (const Movement* move : moves) {
        v.lost_records += " " + move->key + (move->settled ? " settled" : " unsettled") +
                          (move->declined ? " declined" : "");
      }
      if (moves.empty()) v.lost_records += " no movement";
    }
    if (m && m->declined) ++v.declined;
    if (m && m->settled && !m->declined) {
      const auto credits = credits_of.find(m->key);
      if (credits == credits_of.end() || credits->second != 1) ++v.uncredited;
    }
  }
  return v;
}

}  // namespace topupd::testing
