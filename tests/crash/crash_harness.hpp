// What the crash campaigns share: the journal read straight from SQLite, and the
// campaign itself — topupd started again and again, SIGKILLed at each crash point
// (TOPUPD_CRASH_AT) and at random moments, with faults injected before some runs.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "integration/harness.hpp"

namespace topupd::testing {

struct Record {
  std::string key;
  std::string state;
  std::int64_t amount_minor = 0;
  std::int64_t created_at = 0;
  std::int64_t closed_at = 0;  // first terminal transition; 0 while open
  int rail = 0;                // 0: the need's first rail
  std::string need;            // the first rail's key, for a later rail
  std::string ticket_account;  // deposits: the account number the payment was journalled to pay
};

inline const std::set<std::string> kTerminal = {"succeeded", "failed", "rejected", "expired"};

inline std::vector<Record> read_journal(const std::string& db_path) {
  sqlite3* db = nullptr;
  std::vector<Record> records;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return records;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* statement = nullptr;
  const char* sql =
      "SELECT t.key, t.state, t.amount_minor, t.created_at, "
      "  (SELECT MIN(at) FROM top_up_transitions x WHERE x.key = t.key AND x.to_state IN "
      "     ('succeeded', 'failed', 'rejected', 'expired')), t.rail, t.need, t.ticket_account_no "
      "FROM top_ups t ORDER BY t.created_at";
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK) {
    while (sqlite3_step(statement) == SQLITE_ROW) {
      Record r;
      r.key = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      r.state = reinterpret_cast<const char*>(sqlite3_column_text(statement, 1));
      r.amount_minor = sqlite3_column_int64(statement, 2);
      r.created_at = sqlite3_column_int64(statement, 3);
      r.closed_at = sqlite3_column_type(statement, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(statement, 4);
      r.rail = sqlite3_column_int(statement, 5);
      r.need = reinterpret_cast<const char*>(sqlite3_column_text(statement, 6));
      r.ticket_account = reinterpret_cast<const char*>(sqlite3_column_text(statement, 7));
      records.push_back(r);
    }
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return records;
}

// What a failure message needs to tell a lost top-up's story without the files: its
// transitions in the journal, then each line of the runs' logs (run-N.log, final.log)
// that names its key, at most `max_lines` of them.
inline std::string story_of(const TempDir& dir, const std::string& db_path, const std::string& key, int runs,
                            std::size_t max_lines = 60) {
  std::string out = "\n    journal of " + key + ":";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    const char* sql =
        "SELECT sequence, IFNULL(from_state, '-'), to_state, at, note FROM top_up_transitions WHERE key = ?1 "
        "ORDER BY sequence";
    if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(statement, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      while (sqlite3_step(statement) == SQLITE_ROW) {
        out += fmt::format("\n      #{} {} -> {} at {} ms: {}", sqlite3_column_int(statement, 0),
                           reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)),
                           reinterpret_cast<const char*>(sqlite3_column_text(statement, 2)),
                           sqlite3_column_int64(statement, 3),
                           reinterpret_cast<const char*>(sqlite3_column_text(statement, 4)));
      }
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  out += "\n    log lines naming it:";
  std::size_t lines = 0;
  std::vector<std::string> logs;
  for (int run = 0; run < runs; ++run) logs.push_back(fmt::format("run-{}.log", run));
  logs.push_back("final.log");
  for (const auto& name : logs) {
    const std::string text = read_file(dir.file(name));
    for (std::size_t start = 0; start < text.size();) {
      const std::size_t end = std::min(text.find('\n', start), text.size());
      const std::string_view line(text.data() + start, end - start);
      if (line.find(key) != std::string_view::npos) {
        if (++lines > max_lines) return out + "\n      (more lines left out)";
        out += fmt::format("\n      {}: {}", name, line.substr(0, 400));
      }
      start = end + 1;
    }
  }
  return out;
}

// What a campaign did: how often each point was crashed at, and the rest.
struct Campaign {
  std::map<std::string, int> hits;  // crash point → runs that died there
  int runs = 0, random_kills = 0, faults = 0;

  int points_hit(const std::vector<std::string>& points) const {
    int n = 0;
    for (const auto& p : points) n += hits.count(p) && hits.at(p) > 0 ? 1 : 0;
    return n;
  }
  int point_kills() const {
    int n = 0;
    for (const auto& [point, count] : hits) n += count;
    return n;
  }
  std::string per_point(const std::vector<std::string>& points) const {
    std::string out;
    for (const auto& p : points) out += " " + p + "=" + std::to_string(hits.count(p) ? hits.at(p) : 0);
    return out;
  }
};

// `rounds` rounds of: one run per point in `points` (in order: a point that needs a
// prior state finds it), then two runs killed at random moments. `before_run(run)`
// may inject faults and returns whether it did; `after_run()` clears them.
inline Campaign run_campaign(const TempDir& dir, const std::vector<std::string>& points, int rounds,
                             std::mt19937& random, const std::function<bool(int run)>& before_run,
                             const std::function<void()>& after_run) {
  Campaign c;
  int index = 0;
  auto run_once = [&](const std::string& point) {
    std::map<std::string, std::string> env;
    // The N-th time the point is reached, N from 1 to 3; a resend happens once per run.
    const unsigned nth = point == "reconcile.before_resend" ? 1 : 1 + random() % 3;
    if (!point.empty()) env["TOPUPD_CRASH_AT"] = fmt::format("{}:{}", point, nth);
    if (before_run(c.runs)) ++c.faults;
    Process topupd({TOPUPD_BINARY, "--config", dir.file("topupd.yaml")}, env, dir.file(fmt::format("run-{}.log", index++)));
    ++c.runs;
    if (point.empty()) {
      // No crash point: a kill -9 at a random moment.
      const auto delay = std::chrono::milliseconds(300 + random() % 2500);
      if (!topupd.wait(delay)) {
        topupd.signal(SIGKILL);
        ++c.random_kills;
      }
    } else if (auto status = topupd.wait(std::chrono::seconds(10)); status && *status == 128 + SIGKILL) {
      ++c.hits[point];
    } else if (!status) {
      topupd.signal(SIGKILL);  // the point was not reached in time: still a kill
      ++c.random_kills;
    }
    topupd.wait(std::chrono::seconds(5));
    after_run();
  };
  for (int round = 0; round < rounds; ++round) {
    for (const auto& point : points) run_once(point);
    run_once("");
    run_once("");
  }
  return c;
}

// The last run is clean: topupd runs until the journal holds a top-up planned after the
// last restart, every record has ended and `also(journal)` holds (at most 60 s), then
// stops on SIGTERM. Whether it settled, and how it exited.
struct FinalRun {
  bool settled = false;
  std::optional<int> exit;
};
inline FinalRun run_until_settled(const TempDir& dir, const std::string& db,
                                  const std::function<bool(const std::vector<Record>&)>& also) {
  const auto before = read_journal(db).size();
  Process topupd({TOPUPD_BINARY, "--config", dir.file("topupd.yaml")}, {}, dir.file("final.log"));
  FinalRun out;
  out.settled = eventually([&] {
    const auto journal = read_journal(db);
    if (journal.size() < before + 1) return false;
    for (const auto& r : journal) {
      if (!kTerminal.count(r.state)) return false;
    }
    return also(journal);
  }, std::chrono::seconds(60));
  topupd.signal(SIGTERM);
  out.exit = topupd.wait(std::chrono::seconds(10));
  return out;
}

}  // namespace topupd::testing
