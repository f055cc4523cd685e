// The soak: topupd against the stand-alone sandbox for SOAK_MINUTES (make soak; `make
// test` runs SOAK_SECONDS=150), with faults of every kind at random and several at once:
// the gateways' APIs misbehaving, reloads (a broken file among them), SIGKILL and SIGTERM
// restarts, the store's disk full and its file read-only, the wall clock jumping hours
// either way, notifiers that hang, fail or rate-limit, webhook floods mixed with genuine
// deliveries that arrive late or twice. Then, from outside: the ledger against the
// journal, every genuine webhook recorded once, /healthz answered every second, every
// kind of fault seen in a metric, resources of the last life at the end against after
// its warm-up, no sanitizer report. The table goes to stdout and to SOAK_REPORT.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "integration/sandbox.hpp"
#include "soak/soak_config.hpp"
#include "soak/soak_daemon.hpp"
#include "soak/soak_flood.hpp"
#include "soak/soak_ledger.hpp"
#include "soak/soak_peers.hpp"
#include "soak/soak_report.hpp"

namespace topupd::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// Accounts whose polls a gateway's fault shows in.
std::vector<std::string> accounts_of(const std::string& gateway) {
  if (gateway == "stripe") return {"account=\"stripe-payouts\""};
  if (gateway == "xendit") return {"account=\"xendit-cash\""};
  if (gateway == "snap") return {"account=\"bca-source\""};
  if (gateway == "flip") return {"account=\"flip\""};
  if (gateway == "midtrans_iris") return {"account=\"iris\""};
  return {"account=\"w"};  // generic: the wallets
}

TEST(Soak, SurvivesChaosWithoutMovingMoneyTwiceOrLosingATopUp) {
  const int seconds = env_int("SOAK_SECONDS", 60 * env_int("SOAK_MINUTES", 30));
  const int seed = env_int("SOAK_SEED", 20261201);
  std::mt19937 random(static_cast<unsigned>(seed));
  auto chance = [&](int percent) { return static_cast<int>(random() % 100) < percent; };
  auto between = [&](double low, double high) { return low + (high - low) * (random() % 1000) / 1000.0; };

  TempDir keys, dir;
  make_key_pair(keys, "client");
  make_key_pair(keys, "sandbox");
  SoakWorld world;
  world.keys = keys.path();
  world.db = dir.file("topupd.db");
  world.webhook_port = free_port();
  Relay relay(world.webhook_port);
  world.relay = relay.url("");
  NotifierPeer notifiers[3];
  for (int i = 0; i < 3; ++i) world.notifiers[i] = notifiers[i].url();
  Sandbox sandbox(soak_sandbox_config(world));
  world.sandbox = sandbox.url();
  dir.write("topupd.yaml", soak_topupd_config(world, Variant::base));

  SoakDaemon daemon(dir);
  ASSERT_TRUE(daemon.start()) << read_file(daemon.logs().back());
  // The peers' addresses, to name what a growth of open connections points at.
  std::printf("peers: sandbox %s, notifiers %s %s %s, webhooks :%d\n", world.sandbox.c_str(), world.notifiers[0].c_str(),
              world.notifiers[1].c_str(), world.notifiers[2].c_str(), world.webhook_port);

  Tally tally;
  const auto begin = Clock::now();
  const auto end = begin + std::chrono::seconds(seconds);
  const auto last_life_at = begin + std::chrono::seconds(seconds * 2 / 3);
  // The last life's first half is its warm-up: under ASan the allocator's footprint
  // grows fastest in the first minutes and then slows while the heap in use stays flat
  // (SOAK.md's step-by-step table); a leak is what still grows in the second half.
  const auto warm_up = std::chrono::seconds(std::max(20, seconds / 6));
  const double gap = std::clamp(seconds / 150.0, 3.0, 15.0);  // seconds between faults, on average
  bool last_life = false;
  std::optional<Resources> warm;
  std::optional<Clock::time_point> warm_at;
  // The last life's memory, read at even steps (about twenty of them) to its end.
  Clock::time_point last_life_began{}, next_reading{};
  const auto reading_every = std::chrono::seconds(std::clamp(seconds / 60, 5, 60));
  auto read_memory = [&] {
    MemoryReading m = daemon.memory();
    m.minutes = Seconds(Clock::now() - last_life_began).count() / 60.0;
    tally.memory(m);
  };

  // What undoes a fault, when, and the counter that must move. A fault stays at least
  // until `at`, and then until its counter moved — at most kGrace longer (a hang
  // drawn for half the requests may miss a few polls; a duplicate needs a webhook to
  // duplicate). A fault that outlived the life it was injected into is counted apart:
  // a new life's counters start again, and a clock already moved at start is no step.
  struct Pending {
    Clock::time_point at;
    std::string family;  // which of `kinds` it is
    std::string kind;    // what exactly, as the table counts it
    std::function<void()> undo;
    std::function<double()> measure;  // empty: nothing for topupd to notice
    double before = 0;
    bool spanned_restart = false;
    // Whether what topupd would notice happened at all (empty: it always does): a
    // duplicate needs a genuine webhook to come while the fault is on.
    std::function<bool()> occurred{};
  };
  std::vector<Pending> pending;
  constexpr auto kGrace = std::chrono::seconds(60);
  auto say = [&](const std::string& what) {
    std::printf("%7.1f s  life %d  %s\n", Seconds(Clock::now() - begin).count(), daemon.life(), what.c_str());
    std::fflush(stdout);
  };
  auto inject = [&](Clock::time_point at, const std::string& family, const std::string& kind,
                    std::function<void()> undo, std::function<double()> measure,
                    std::function<bool()> occurred = {}) {
    say(fmt::format("{} for {:.1f} s", kind, Seconds(at - Clock::now()).count()));
    tally.inject(kind, static_cast<bool>(measure));
    const double before = measure ? measure() : 0;
    pending.push_back({at, family, kind, std::move(undo), std::move(measure), before, false, std::move(occurred)});
  };
  // Due to be lifted at `now`: its time is up and it was seen (or cannot be), or its grace is.
  auto due = [&](Pending& p, Clock::time_point now) {
    if (p.at > now) return false;
    return !p.measure || p.spanned_restart || now >= p.at + kGrace || p.measure() > p.before;
  };
  auto finish = [&](Pending& p) {
    if (p.measure && !p.spanned_restart && p.occurred && !p.occurred()) {
      tally.nothing_happened(p.kind);
      say(fmt::format("{} lifted; nothing happened for it to notice", p.kind));
    } else if (p.measure && p.spanned_restart) {
      tally.spanned_restart(p.kind);
    } else if (p.measure) {
      const double after = p.measure();
      tally.seen(p.kind, after > p.before);
      // What the daemon showed when a fault went unseen (TOPUPD_TEST_KEEP keeps it).
      if (after <= p.before) dir.write(fmt::format("unseen-{}-{}.metrics", p.kind, daemon.life()), daemon.metrics());
      say(fmt::format("{} lifted; its counter {} → {}", p.kind, p.before, after));
    }
    p.undo();
  };
  // The sum of `name`'s samples with all of `labels`, in the running life.
  auto counter = [&](std::string name, std::vector<std::string> labels = {}) {
    return [&daemon, name, labels] { return sum_of(daemon.metrics(), name, labels); };
  };
  auto restart = [&](int signal) {
    // The store's faults belong to the life: lifted before it ends (not judged unless
    // already seen: the life ends before its grace).
    for (auto& p : pending) {
      if (p.family != "disk full" && p.family != "store read-only") continue;
      if (p.measure && !(p.measure() > p.before)) p.spanned_restart = true;
      finish(p), p.at = {};
    }
    std::erase_if(pending, [](const Pending& p) { return p.at == Clock::time_point{}; });
    const auto status = daemon.stop(signal);
    if (signal == SIGTERM) {
      ++tally.terms;
      EXPECT_EQ(status, 0) << "SIGTERM did not end topupd cleanly";
    } else {
      ++tally.kills;
    }
    for (auto& p : pending) p.spanned_restart = true;
    ASSERT_TRUE(daemon.start()) << read_file(daemon.logs().back());
  };

  const std::vector<std::string> kinds = {"gateway", "reload", "kill", "term", "disk full", "store read-only",
                                          "clock jump", "notifier", "flood", "webhooks late or twice"};
  std::set<std::string> done_kinds;
  std::size_t reloads_done = 0;
  auto next_fault = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto now = Clock::now();
    for (auto& p : pending) {
      if (due(p, now)) finish(p), p.at = {};
    }
    std::erase_if(pending, [](const Pending& p) { return p.at == Clock::time_point{}; });
    if (!last_life && now >= last_life_at) {
      // The last life: no more restarts, so its resources can be followed to the end.
      say("SIGTERM and start the last life");
      restart(SIGTERM);
      last_life = true;
      last_life_began = next_reading = Clock::now();
      warm_at = Clock::now() + warm_up;
    }
    if (warm_at && !warm && now >= *warm_at) warm = daemon.resources();
    if (last_life && Clock::now() >= next_reading) {
      read_memory();
      next_reading += reading_every;
    }
    if (now < next_fault || now >= end - std::chrono::seconds(std::clamp(seconds / 20, 5, 60))) continue;
    next_fault = now + std::chrono::milliseconds(static_cast<int>(1000 * between(0.5 * gap, 1.5 * gap)));

    // Each kind once early on (so a short soak meets them all), then at random.
    std::vector<std::string> choices;
    for (const auto& k : kinds) {
      if (!done_kinds.count(k)) choices.push_back(k);
    }
    if (choices.empty()) choices = kinds;
    std::string kind = choices[random() % choices.size()];
    if (last_life && (kind == "kill" || kind == "term")) kind = "reload";
    bool busy = false;
    for (const auto& p : pending) busy = busy || p.family == kind;
    if (busy) continue;
    done_kinds.insert(kind);
    const auto until = now + std::chrono::milliseconds(static_cast<int>(1000 * between(0.8 * gap, 3 * gap)));

    if (kind == "gateway") {
      static const std::vector<std::string> kGateways = {"stripe", "xendit", "snap", "flip", "midtrans_iris", "generic"};
      static const std::vector<std::pair<std::string, std::string>> kMisbehaviour = {
          {"latency", R"("latency_ms":1500)"},       {"5xx", R"("status":503)"},
          {"reset", R"("reset":true)"},              {"hang", R"("hang":true)"},
          {"malformed", R"("malformed":true)"},      {"answer lost after apply", R"("reset":true,"after_apply":true)"},
          {"500 after apply", R"("status":500,"after_apply":true)"}};
      const auto& gateway = kGateways[random() % kGateways.size()];
      const auto& [what, body] = kMisbehaviour[random() % kMisbehaviour.size()];
      const int rate = chance(50) ? 100 : 50;
      say(fmt::format("on {}, {} % of requests:", gateway, rate));
      inject(until, kind, "gateway " + what,
             [&sandbox] { http_request("DELETE", "127.0.0.1", sandbox.port(), "/_sandbox/faults", ""); },
             counter("topupd_poll_errors_total", accounts_of(gateway)));
      EXPECT_EQ(sandbox.post("/_sandbox/faults",
                             fmt::format(R"({{"provider":"{}",{},"rate":{}}})", gateway, body, rate)).status, 200);
    } else if (kind == "reload") {
      static const std::vector<Variant> kVariants = {Variant::base, Variant::more_accounts, Variant::fewer_accounts,
                                                     Variant::rotated_secret, Variant::without_stripe_rule,
                                                     Variant::broken};
      // Each variant once, in turn (a short soak meets a broken file too), then at random.
      const Variant v = reloads_done < kVariants.size() ? kVariants[reloads_done] : kVariants[random() % kVariants.size()];
      ++reloads_done;
      dir.write("topupd.yaml", soak_topupd_config(world, v));
      const auto accepted = daemon.reload();
      const double flag = sum_of(daemon.metrics(), "topupd_config_last_reload_successful");
      const std::string what = v == Variant::broken ? "reload, broken file" : "reload";
      tally.inject(what);
      ++tally.reloads[variant_name(v)];
      const bool right = accepted && *accepted == (v != Variant::broken) && flag == (v == Variant::broken ? 0 : 1);
      tally.seen(what, right);
      say(fmt::format("reload to '{}': {}", variant_name(v), right ? "as expected" : "WRONG"));
      EXPECT_TRUE(right) << "reload to '" << variant_name(v) << "' answered "
                         << (accepted ? (*accepted ? "accepted" : "rejected") : "nothing") << ", metric " << flag;
      if (v == Variant::broken) dir.write("topupd.yaml", soak_topupd_config(world, Variant::base));
    } else if (kind == "kill" || kind == "term") {
      const std::string what = kind == "kill" ? "SIGKILL" : "SIGTERM";
      tally.inject(what);
      say(what + " and start again");
      restart(kind == "kill" ? SIGKILL : SIGTERM);
      tally.seen(what, true);
    } else if (kind == "disk full") {
      // Nothing may grow: the store's next page, its WAL, the log.
      inject(until, kind, "disk full", [&daemon] { daemon.limit_file_size(RLIM_INFINITY); },
             counter("topupd_store_errors_total"));
      EXPECT_TRUE(daemon.limit_file_size(1));
    } else if (kind == "store read-only") {
      if (!store_read_only(world.db, true)) {
        store_read_only(world.db, false);
        tally.not_injectable("store read-only", "immutable files need CAP_LINUX_IMMUTABLE");
        continue;
      }
      inject(until, kind, "store read-only", [&world] { store_read_only(world.db, false); },
             counter("topupd_store_errors_total"));
    } else if (kind == "clock jump") {
      const int hours = 1 + static_cast<int>(random() % 3);
      const bool forwards = chance(50);
      inject(until, kind, forwards ? "clock jump forwards" : "clock jump backwards",
             [&daemon] { daemon.set_clock("+0"); }, counter("topupd_clock_jumps_total"));
      daemon.set_clock(fmt::format("{}{}h", forwards ? "+" : "-", hours));
    } else if (kind == "notifier") {
      // Each of the three carries an alert every few seconds; a failed delivery is retried.
      const int which = static_cast<int>(random() % 3);
      static const char* const kNames[] = {"pager", "chat", "ticketing"};
      const auto mood = static_cast<NotifierPeer::Mood>(1 + random() % 3);
      inject(until + std::chrono::seconds(30), kind, std::string("notifier ") + NotifierPeer::name(mood),
             [&notifiers, which] { notifiers[which].set(NotifierPeer::Mood::ok); },
             counter("topupd_notifications_total", {fmt::format("notifier=\"{}\"", kNames[which]), "outcome=\"retry\""}));
      notifiers[which].set(mood);
    } else if (kind == "flood") {
      const auto refused = [&daemon] {
        const std::string m = daemon.metrics();
        return sum_of(m, "topupd_webhooks_total") - sum_of(m, "topupd_webhooks_total", {"outcome=\"accepted\""});
      };
      const double before = refused();
      const FloodResult flood = webhook_flood(world.webhook_port, relay.genuine(), 96, 16, random());
      tally.flood(flood);
      tally.inject("webhook flood");
      tally.seen("webhook flood", refused() > before);
      say(fmt::format("webhook flood: {} forged, {} replayed, {} oversized, {} malformed; refusals {} → {}", flood.forged,
                      flood.replayed, flood.oversized, flood.malformed, before, refused()));
      EXPECT_EQ(flood.accepted_forged, 0) << "a forged, oversized or malformed delivery was accepted:\n"
                                          << flood.accepted_detail;
    } else if (kind == "webhooks late or twice") {
      // Twice shows as duplicates; late is an ordinary delivery, later.
      const bool twice = chance(50);
      const int sent_twice = relay.sent_twice();
      inject(until, kind, twice ? "webhooks twice" : "webhooks late",
             [&relay] { relay.set_twice(false), relay.set_late({}); },
             twice ? counter("topupd_webhooks_total", {"outcome=\"duplicate\""}) : std::function<double()>(),
             [&relay, sent_twice] { return relay.sent_twice() > sent_twice; });
      if (twice) relay.set_twice(true);
      else relay.set_late(std::chrono::milliseconds(static_cast<int>(1000 * between(2, 20))));
    }
  }
  // Faults still on are lifted as they come due, as above.
  while (!pending.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (auto& p : pending) {
      if (due(p, Clock::now())) finish(p), p.at = {};
    }
    std::erase_if(pending, [](const Pending& p) { return p.at == Clock::time_point{}; });
  }
  tally.healthz(daemon.probes(), daemon.misses(), daemon.worst_probe_ms());

  // The end: every fault lifted, the base configuration back, then resources.
  dir.write("topupd.yaml", soak_topupd_config(world, Variant::base));
  EXPECT_EQ(daemon.reload(), true);
  // Past the gateway clients' idle_keep (30 s), so that connections opened for a fault's
  // slow answers have been closed, as they are in a daemon left alone.
  std::this_thread::sleep_for(std::chrono::seconds(35));
  const Resources at_end = daemon.resources();
  read_memory();

  // Settle: every record ended, every genuine webhook delivered, the funded balances
  // funded again.
  const bool settled = eventually([&] {
    for (const auto& r : soak_journal(world.db)) {
      if (!kTerminal.count(r.state)) return false;
    }
    return relay.pending() == 0;
  }, std::chrono::seconds(120));
  const std::string final_metrics = daemon.metrics();
  const auto status = daemon.stop(SIGTERM);
  EXPECT_EQ(status, 0) << "the last SIGTERM did not end topupd cleanly";

  const auto journal = soak_journal(world.db);
  const SoakVerdict verdict = judge_soak(journal, soak_movements(sandbox.ledger()));
  const int events = webhook_events_recorded(world.db);
  const auto genuine = relay.genuine();
  std::string sanitizer;
  for (const auto& log : daemon.logs()) sanitizer += sanitizer_reports(read_file(log));
  sanitizer += sanitizer_reports(sandbox.log());

  tally.resources(warm, at_end);
  tally.money(journal.size(), verdict);
  const int daily_most = most_in_a_day(journal, kStripeDailyRule);
  tally.scheduled(static_cast<int>(std::count_if(journal.begin(), journal.end(),
                                                 [](const SoakRecord& r) { return r.rule == kStripeDailyRule; })),
                  daily_most, kStripeDailyCap);
  tally.webhooks(genuine.size(), events, relay.given_up(), relay.sent_twice());
  const std::string table = tally.table(seconds, seed, daemon.life());
  std::printf("%s\n", table.c_str());
  write_report(table);

  EXPECT_TRUE(settled) << "records still open or webhooks undelivered (" << relay.pending() << ")";
  for (const auto& problem : verdict.problems) ADD_FAILURE() << problem;
  EXPECT_EQ(verdict.duplicates, 0);
  EXPECT_EQ(verdict.lost, 0);
  EXPECT_EQ(verdict.unjournalled, 0);
  EXPECT_EQ(verdict.double_credits, 0);
  EXPECT_GT(verdict.moved, 0) << "no money moved: the soak proved nothing";
  EXPECT_LE(daily_most, kStripeDailyCap) << "a daily cap let more through on one day";
  EXPECT_EQ(relay.given_up(), 0) << "genuine webhooks never accepted";
  if (events != static_cast<int>(genuine.size())) {
    // Which delivery has no event of its own: every delivery and every recorded event.
    std::string detail = "\ngenuine deliveries:\n";
    for (const auto& d : genuine) detail += "  " + d.path + " " + d.body.substr(0, 240) + "\n";
    detail += "recorded events:\n";
    for (const auto& row : webhook_event_rows(world.db)) detail += "  " + row + "\n";
    ADD_FAILURE() << "each genuine event recorded once: " << events << " recorded, " << genuine.size()
                  << " genuine" << detail;
  }
  EXPECT_EQ(daemon.misses(), 0) << "/healthz missed";
  EXPECT_EQ(sanitizer, "");
  // Every fault that stayed within one life showed in its counter.
  for (const auto& [kind, counts] : tally.kinds()) {
    if (counts.visible) {
      EXPECT_EQ(counts.seen, counts.injected - counts.spanned - counts.idle)
          << kind << ": injected " << counts.injected << " times, nothing to notice " << counts.idle
          << " times, outlived its life " << counts.spanned
                                                               << " times, seen in a metric " << counts.seen;
    }
  }
  ASSERT_TRUE(warm.has_value()) << "the last life never warmed up";
  EXPECT_LE(at_end.rss_kib, warm->rss_kib * 105 / 100) << "resident memory grew";
  EXPECT_LE(at_end.heap_kib, warm->heap_kib * 105 / 100) << "the heap in use grew";
  // Connections to the gateways stay open in their providers' pools: how many follows how
  // many requests once overlapped (more on a loaded machine, more after a reload added
  // accounts), up to each provider's concurrency (16 by default; six providers here), so
  // they are held to that bound. Every other descriptor, a connection to a gateway left
  // half-closed among them, is held to 5 %.
  const std::string to_gateways = fmt::format("tcp to :{}", sandbox.port());
  const auto pooled = [&](const Resources& r) {
    const auto it = r.descriptors.find(to_gateways);
    return it == r.descriptors.end() ? 0 : it->second;
  };
  EXPECT_LE(pooled(at_end), 6 * 16) << "connections to the gateways beyond their pools' bound";
  EXPECT_LE(at_end.fds - pooled(at_end), (warm->fds - pooled(*warm)) * 105 / 100)
      << "open files grew: " << descriptors_grown(*warm, at_end);
  (void)final_metrics;
}

}  // namespace
}  // namespace topupd::testing
