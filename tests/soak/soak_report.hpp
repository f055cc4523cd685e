// What the soak counts, and the table it prints and writes (SOAK_REPORT, make soak:
// SOAK.md) with the machine and the commit it ran on.
#pragma once

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "soak/soak_daemon.hpp"
#include "soak/soak_flood.hpp"
#include "soak/soak_ledger.hpp"

namespace topupd::testing {

// Makes the store's files (database and write-ahead log) immutable, or writable again:
// even root's open descriptors then fail to write. Needs CAP_LINUX_IMMUTABLE.
inline bool store_read_only(const std::string& db, bool on) {
  for (const std::string& file : {db, db + "-wal"}) {
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    int flags = 0;
    bool done = fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    done = done && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    if (fd >= 0) close(fd);
    if (!done) return false;
  }
  return true;
}

// Lines of sanitizer reports in a log.
inline std::string sanitizer_reports(const std::string& log) {
  std::string out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("ERROR: AddressSanitizer") != std::string::npos ||
        line.find("ERROR: LeakSanitizer") != std::string::npos || line.find("runtime error:") != std::string::npos) {
      out += line + "\n";
    }
  }
  return out;
}

class Tally {
 public:
  struct Counts {
    int injected = 0;
    int seen = 0;         // injected and seen in a metric of the same life
    int spanned = 0;      // outlived the life it was injected into: not judged
    int idle = 0;         // nothing happened for topupd to notice (no webhook to duplicate): not judged
    bool visible = true;  // false: nothing for topupd to notice (a webhook arriving late)
  };

  void inject(const std::string& kind, bool visible = true) {
    ++kinds_[kind].injected;
    kinds_[kind].visible = visible;
  }
  void seen(const std::string& kind, bool yes) { kinds_[kind].seen += yes ? 1 : 0; }
  void spanned_restart(const std::string& kind) { ++kinds_[kind].spanned; }
  void nothing_happened(const std::string& kind) { ++kinds_[kind].idle; }
  void not_injectable(const std::string& kind, const std::string& why) { impossible_[kind] = why; }
  const std::map<std::string, Counts>& kinds() const { return kinds_; }

  std::map<std::string, int> reloads;
  int kills = 0, terms = 0;

  void flood(const FloodResult& f) {
    floods_.forged += f.forged;
    floods_.replayed += f.replayed;
    floods_.oversized += f.oversized;
    floods_.malformed += f.malformed;
    floods_.accepted_forged += f.accepted_forged;
    floods_.refused_connections += f.refused_connections;
  }
  void healthz(int probes, int misses, long worst_ms) {
    probes_ = probes;
    misses_ = misses;
    worst_ms_ = worst_ms;
  }
  void resources(std::optional<Resources> warm, Resources end) {
    warm_ = warm;
    end_ = end;
  }
  void memory(const MemoryReading& m) { memory_.push_back(m); }
  void money(std::size_t records, const SoakVerdict& v) {
    records_ = records;
    verdict_ = v;
  }
  void scheduled(int runs, int most_in_a_day, int cap) {
    scheduled_ = runs;
    most_in_a_day_ = most_in_a_day;
    daily_cap_ = cap;
  }
  void webhooks(std::size_t genuine, int recorded, int given_up, int twice) {
    genuine_ = genuine;
    recorded_ = recorded;
    given_up_ = given_up;
    twice_ = twice;
  }

  std::string table(int seconds, int seed, int lives) const {
    std::string t = fmt::format("## Soak of {} min on {}, SOAK_SEED={}\n\n", seconds / 60.0, machine_, seed);
    t += "| fault | injected | seen in a metric | outlived its life (not judged) | nothing happened to notice (not judged) |\n"
         "|---|---|---|---|---|\n";
    for (const auto& [kind, c] : kinds_) {
      t += fmt::format("| {} | {} | {} | {} | {} |\n", kind, c.injected,
                       c.visible ? std::to_string(c.seen) : "— (nothing to notice)", c.spanned, c.idle);
    }
    for (const auto& [kind, why] : impossible_) t += fmt::format("| {} | not here: {} | | | |\n", kind, why);
    std::string reload_list;
    for (const auto& [variant, n] : reloads) {
      reload_list += fmt::format("{}{} {}", reload_list.empty() ? "" : ", ", n, variant);
    }
    std::string outcomes;
    for (const auto& [what, n] : verdict_.by_rule_and_state) outcomes += fmt::format("{}{} {}", outcomes.empty() ? "" : ", ", n, what);
    t += "\n| check | result |\n|---|---|\n";
    t += fmt::format("| lives of topupd | {} ({} SIGKILL, {} SIGTERM restarts, then one last life) |\n", lives, kills, terms);
    t += fmt::format("| reloads | {} |\n", reload_list.empty() ? "none" : reload_list);
    t += fmt::format("| top-ups journalled | {} ({}) |\n", records_, outcomes);
    t += fmt::format("| money moved and settled | {} |\n", verdict_.moved);
    t += fmt::format("| scheduled top-ups (every minute) / most on one day / max_per_day | {} / {} / {} |\n", scheduled_,
                     most_in_a_day_, daily_cap_);
    t += fmt::format("| duplicates / lost / not journalled / credited twice | {} / {} / {} / {} |\n",
                     verdict_.duplicates, verdict_.lost, verdict_.unjournalled, verdict_.double_credits);
    t += fmt::format("| genuine webhooks / recorded once / given up / delivered twice | {} / {} / {} / {} |\n",
                     genuine_, recorded_, given_up_, twice_);
    t += fmt::format("| flood: forged / replayed / oversized / malformed / accepted as new | {} / {} / {} / {} / {} |\n",
                     floods_.forged, floods_.replayed, floods_.oversized, floods_.malformed, floods_.accepted_forged);
    t += fmt::format("| /healthz probes / missed / slowest | {} / {} / {} ms |\n", probes_, misses_, worst_ms_);
    if (warm_) {
      t += fmt::format("| last life: RSS after warm-up → end | {} → {} KiB ({:+.1f} %) |\n", warm_->rss_kib, end_.rss_kib,
                       100.0 * (end_.rss_kib - warm_->rss_kib) / warm_->rss_kib);
      t += fmt::format("| last life: heap in use after warm-up → end | {} → {} KiB ({:+.1f} %) |\n", warm_->heap_kib,
                       end_.heap_kib, 100.0 * (end_.heap_kib - warm_->heap_kib) / std::max(1L, warm_->heap_kib));
      const std::string grown = descriptors_grown(*warm_, end_);
      t += fmt::format("| last life: open fds after warm-up → end | {} → {}{} |\n", warm_->fds, end_.fds,
                       grown.empty() ? "" : " (" + grown + ")");
    }
    if (!memory_.empty()) {
      t += "\n### The last life's memory, step by step\n\n"
           "Resident memory split as /proc/PID/status splits it; *heap in use* is what the allocator counts as "
           "allocated and not freed (`topupd_heap_in_use_bytes`): a leak climbs there, while resident memory above it "
           "is ASan's shadow and quarantine and what the allocator keeps.\n\n"
           "| minute | RSS KiB | anonymous | file | shared | heap in use KiB | /metrics bytes | fds |\n"
           "|---|---|---|---|---|---|---|---|\n";
      for (const auto& m : memory_) {
        t += fmt::format("| {:.1f} | {} | {} | {} | {} | {} | {} | {} |\n", m.minutes, m.rss_kib, m.anon_kib,
                         m.file_kib, m.shmem_kib, m.heap_kib, m.metrics_bytes, m.fds);
      }
    }
    return t;
  }

 private:
  static std::string machine() {
    utsname u{};
    uname(&u);
    std::string cpu = "?";
    std::istringstream info(read_file("/proc/cpuinfo"));
    for (std::string line; std::getline(info, line);) {
      if (line.rfind("model name", 0) == 0) {
        cpu = line.substr(line.find(':') + 2);
        break;
      }
    }
    const auto commit = run_command({TOPUPD_GIT, "-C", TOPUPD_SOURCE_DIR, "describe", "--always", "--dirty"});
    std::string rev = commit.status == 0 ? commit.output.substr(0, commit.output.find('\n')) : "unknown";
    return fmt::format("{} × {}, Linux {}, commit {}", sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release, rev);
  }

  std::map<std::string, Counts> kinds_;
  std::map<std::string, std::string> impossible_;
  FloodResult floods_;
  int probes_ = 0, misses_ = 0;
  long worst_ms_ = 0;
  int scheduled_ = 0, most_in_a_day_ = 0, daily_cap_ = 0;
  std::optional<Resources> warm_;
  Resources end_;
  std::vector<MemoryReading> memory_;
  // Read when the run starts, right after `make soak` built it: a commit made while a
  // long run goes on is not what ran.
  std::string machine_ = machine();
  std::size_t records_ = 0;
  SoakVerdict verdict_;
  std::size_t genuine_ = 0;
  int recorded_ = 0, given_up_ = 0, twice_ = 0;
};

inline void write_report(const std::string& table) {
  const char* path = std::getenv("SOAK_REPORT");
  if (!path || !*path) return;
  std::ofstream out(path);
  out << "# Soak\n\n`make soak` (SOAK_MINUTES, default 30) runs topupd, built with ASan and UBSan, against the\n"
         "stand-alone sandbox under every kind of fault at once; tests/soak/soak_test.cpp says what it\n"
         "injects and checks. The last run:\n\n"
      << table;
}

}  // namespace topupd::testing
