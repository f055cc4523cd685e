// Several instances on one real PostgreSQL 15, against the stand-alone sandbox: each
// account is polled by one instance only, and whatever happens to the owner of an
// account that needs money — killed, stopped, cut off from PostgreSQL — or to
// PostgreSQL, the account is owned again within the lease time and kept funded, every
// top-up once in the sandbox's ledger.
#include <algorithm>
#include <csignal>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "integration/sandbox.hpp"
#include "support/postgres_server.hpp"
#include "support/tcp_proxy.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/core/ownership.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kQuiet = 16;  // accounts that only need watching

std::string sandbox_config() {
  std::string accounts;
  for (int i = 0; i < kQuiet; ++i) accounts += fmt::format("      acct_{}: {{balance: USD 5_000}}\n", i);
  return fmt::format(R"(
gateways:
  stripe:
    secret_key: sk_test_ha
    settle_after: 200ms
    accounts:
      acct_low: {{balance: USD 1_000, drain_per_minute: USD 5_000}}
{})",
                     accounts);
}

std::string instance_config(const std::string& sandbox_url, const std::string& control,
                            const std::string& webhooks = "") {
  std::string accounts;
  for (int i = 0; i < kQuiet; ++i) {
    accounts += fmt::format("  quiet-{}: {{provider: stripe, id: acct_{}, currency: USD, poll: {{every: 250ms}}}}\n", i, i);
  }
  return fmt::format(R"(http: {{listen: "127.0.0.1:0"}}
store: {{postgres: {{dsn: "${{cred:pg-dsn}}", lease: 3s}}}}
control: {{socket: "{}"}}
{}providers:
  stripe:
    type: stripe
    base_url: {}
    api_key: sk_test_ha
    retries: 0
    timeouts: {{request: 1s}}{}
accounts:
  low: {{provider: stripe, id: acct_low, currency: USD, poll: {{every: 250ms, timeout: 1s, max_backoff: 500ms}}}}
{}notifiers:
  ops: {{type: log}}
rules:
  - name: refill
    account: low
    when: {{below: USD 800}}
    clear: {{above: USD 900}}
    alert: {{notify: [ops]}}
    top_up:
      method: direct_debit
      from_account: src_primary
      amount: {{to_target: USD 1_100}}
)",
                     control, webhooks.empty() ? "" : "webhooks: {listen: \"127.0.0.1:0\"}\n", sandbox_url,
                     webhooks.empty() ? "" : "\n    webhook: {secret: " + webhooks + "}", accounts);
}

// Balance reads per sandbox account id, from the ledger.
std::map<std::string, long> reads(const Sandbox& sandbox) {
  std::map<std::string, long> out;
  const std::string text = sandbox.ledger();
  const std::regex account(R"#("id":"(acct_[a-z0-9]+)","balance_minor":-?\d+,"currency":"USD","paid_out_minor":\d+,"balance_reads":(\d+))#");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), account); it != std::sregex_iterator(); ++it) {
    out[(*it)[1]] = std::stol((*it)[2]);
  }
  return out;
}

std::vector<std::string> top_up_keys(const Sandbox& sandbox) {
  std::vector<std::string> keys;
  const std::string text = sandbox.ledger();
  const std::regex entry(R"#("account":"acct_low","source":"[^"]*","amount_minor":\d+,"currency":"USD","idempotency_key":"([^"]+)")#");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
    keys.push_back((*it)[1]);
  }
  return keys;
}

double owned(const Daemon& d) { return d.metric("topupd_owned_accounts").value_or(-1); }
bool holds(const Daemon& d, const std::string& account) {
  return d.metric("topupd_lease_epoch", {"account=\"" + account + "\""}).has_value();
}

// Two instances share 17 accounts on one PostgreSQL, each reaching it through a TCP
// proxy the test can freeze. First, each account has one poller. Then, HA_RUNS times
// (5 here, one of each; `make ha-test` runs many), something happens to the owner of
// the account that needs money, in the middle of its top-ups: SIGKILL, a partition from
// PostgreSQL that heals after the lease moved, SIGTERM, PostgreSQL itself restarts, or
// the owner dies at a crash point of the top-up path (a different one each time). The
// other takes over, the stopped one starts again as a new instance and gets its share
// back. At the end the sandbox's ledger shows every top-up once, each journalled once,
// and every journalled top-up moved its money.
TEST(InstancesTest, EachAccountHasOnePollerAndNoKillPartitionOrRestartMakesATopUpTwice) {
  const int runs = env_int("HA_RUNS", 5);
  Sandbox sandbox(sandbox_config());
  PostgresServer& postgres = PostgresServer::shared();
  const std::string dsn = postgres.fresh_database();
  const std::string port = "port=" + std::to_string(postgres.port());
  TcpProxy proxy_a(postgres.port()), proxy_b(postgres.port());
  TcpProxy* proxies[2] = {&proxy_a, &proxy_b};
  TempDir dir;
  const std::string sockets[2] = {dir.file("a.sock"), dir.file("b.sock")};
  std::map<std::string, std::string> envs[2];
  for (int i = 0; i < 2; ++i) {
    const std::string credentials = i == 0 ? "cred-a" : "cred-b";
    std::filesystem::create_directories(dir.file(credentials));
    std::string through_proxy = dsn;
    through_proxy.replace(through_proxy.find(port), port.size(), "port=" + std::to_string(proxies[i]->port()));
    dir.write(credentials + "/pg-dsn", through_proxy + "\n");
    envs[i] = {{"CREDENTIALS_DIRECTORY", dir.file(credentials)}};
  }
  std::unique_ptr<Daemon> instances[2];
  auto start = [&](int i, const std::string& crash_at = "") {
    auto env = envs[i];
    if (!crash_at.empty()) env["TOPUPD_CRASH_AT"] = crash_at;
    instances[i] = std::make_unique<Daemon>(instance_config(sandbox.url(), sockets[i]), env);
    return instances[i]->wait_ready();
  };
  const double total = kQuiet + 1;
  auto shared_out = [&] {
    return eventually([&] {
      const double a = owned(*instances[0]), b = owned(*instances[1]);
      return a + b == total && a > 0 && b > 0;
    }, 30s);
  };
  ASSERT_TRUE(start(0)) << instances[0]->log();
  ASSERT_TRUE(start(1)) << instances[1]->log();
  // Shared out: every account owned by exactly one of them, both owning some.
  ASSERT_TRUE(shared_out()) << instances[0]->log() << instances[1]->log();
  for (int i = 0; i < kQuiet; ++i) {
    const std::string name = "quiet-" + std::to_string(i);
    EXPECT_NE(holds(*instances[0], name), holds(*instances[1], name)) << name;
  }

  // One poller per account: over a measured window each account is read about as often
  // as one instance polling every 250 ms reads it — not twice that.
  const auto before = reads(sandbox);
  const auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(4s);
  const auto after = reads(sandbox);
  const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double one_poller = window / 0.25;
  ASSERT_EQ(after.size(), static_cast<std::size_t>(kQuiet + 1));
  for (const auto& [id, count] : after) {
    const long delta = count - before.at(id);
    EXPECT_GT(delta, 0) << id << " not polled at all";
    EXPECT_LT(static_cast<double>(delta), one_poller * 1.5 + 2) << id << " was read by more than one poller";
  }

  enum class Fault { kill, partition, term, postgres_restart, crash_point };
  const char* names[] = {"SIGKILL", "partition", "SIGTERM", "PostgreSQL restart", "crash point"};
  constexpr int kFaults = 5;
  // The top-up path of a direct debit, where the owner dies in the middle of moving money.
  const std::vector<std::string> points = {"plan.before_write",   "plan.after_write",   "send.before_submitted",
                                           "send.before_request", "send.after_response", "send.after_journal",
                                           "transition.after_write"};
  std::map<std::string, int> points_hit;
  std::map<Fault, int> done;
  std::vector<long long> takeovers;
  for (int run = 0; run < runs; ++run) {
    const Fault fault = static_cast<Fault>(run % kFaults);
    const std::size_t keys_before = top_up_keys(sandbox).size();
    ASSERT_TRUE(eventually([&] { return top_up_keys(sandbox).size() > keys_before; }, 30s))
        << instances[0]->log() << instances[1]->log();
    const int victim = holds(*instances[0], "low") ? 0 : 1;
    Daemon* survivor = instances[1 - victim].get();
    std::size_t keys_at_fault = top_up_keys(sandbox).size();
    auto at = std::chrono::steady_clock::now();
    done[fault] += 1;
    if (fault == Fault::crash_point) {
      // The owner of `low` starts again armed to die at a point of the top-up path. A
      // clean stop hands its accounts over at once and rendezvous hashing decides who
      // gets `low` back, so the other is restarted (unarmed) until the armed one owns
      // it — it owns everything while the other is away — and reaches the point.
      const std::string point = points[(run / kFaults) % points.size()];
      instances[victim]->process().signal(SIGTERM);
      instances[victim]->process().wait(5s);
      ASSERT_TRUE(start(victim, point)) << instances[victim]->log();
      const int other = 1 - victim;
      bool died = false;
      for (int attempt = 0; attempt < 12 && !died; ++attempt) {
        died = eventually([&] { return !instances[victim]->process().running(); }, 8s);
        if (died) break;
        instances[other]->process().signal(SIGTERM);
        instances[other]->process().wait(5s);
        died = eventually([&] { return !instances[victim]->process().running(); }, 8s);
        ASSERT_TRUE(start(other)) << instances[other]->log();
      }
      ASSERT_TRUE(died) << point << " never reached\n" << instances[victim]->log();
      EXPECT_EQ(instances[victim]->process().wait(0ms), 128 + SIGKILL) << point;
      points_hit[point] += 1;
      at = std::chrono::steady_clock::now();
      keys_at_fault = top_up_keys(sandbox).size();
      survivor = instances[other].get();
      if (!survivor->process().running()) {  // stopped by the loop above: bring it back
        ASSERT_TRUE(start(other)) << instances[other]->log();
        survivor = instances[other].get();
      }
    }
    if (fault == Fault::postgres_restart) {
      postgres.restart();
      // Every connection dropped: both reconnect, and every account is owned again.
      ASSERT_TRUE(eventually([&] { return owned(*instances[0]) + owned(*instances[1]) == total; }, 20s))
          << instances[0]->log() << instances[1]->log();
    } else {
      if (fault == Fault::partition) {
        proxies[victim]->freeze(true);
      } else if (fault != Fault::crash_point) {
        instances[victim]->process().signal(fault == Fault::term ? SIGTERM : SIGKILL);
        instances[victim]->process().wait(5s);
      }
      // Taken over within the lease (3 s), a renewal round (1 s) and a poll — at once
      // after a clean stop, which gives the leases up.
      ASSERT_TRUE(eventually([&] { return holds(*survivor, "low") && owned(*survivor) == total; }, 20s))
          << names[run % kFaults] << "\n" << survivor->log();
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - at);
      if (fault != Fault::crash_point) takeovers.push_back(took.count());
      EXPECT_LT(took, fault == Fault::term ? 1s + 250ms + 2s : 3s + 1s + 250ms + 2s)
          << "takeover took " << took.count() << " ms after a " << names[run % kFaults];
    }
    // The account stays funded.
    ASSERT_TRUE(eventually([&] { return top_up_keys(sandbox).size() >= keys_at_fault + 1; }, 40s))
        << survivor->log();
    if (fault == Fault::partition) {
      // It heals: whatever the cut-off instance had on the wire arrives late and is
      // refused; it rejoins and gets its share back.
      proxies[victim]->freeze(false);
      // It felt the partition: its renewals failed, or came back to find the leases gone.
      EXPECT_TRUE(eventually([&] {
        const std::string log = instances[victim]->log();
        return log.find("cannot renew leases") != std::string::npos ||
               log.find("leases lost to another instance") != std::string::npos;
      }, 10s)) << instances[victim]->log();
    } else if (fault != Fault::postgres_restart) {
      ASSERT_TRUE(start(victim)) << instances[victim]->log();
    }
    ASSERT_TRUE(shared_out()) << names[run % kFaults] << "\n" << instances[0]->log() << instances[1]->log();
  }

  // Every top-up once at the gateway, and journalled once.
  const auto keys = top_up_keys(sandbox);
  const std::set<std::string> distinct(keys.begin(), keys.end());
  EXPECT_EQ(distinct.size(), keys.size()) << sandbox.ledger();
  const auto history = topupctl(sockets[0], {"history", "--account", "low", "--csv"});
  ASSERT_EQ(history.status, 0) << history.output;
  std::set<std::string> moved;
  for (const auto& key : keys) {
    const std::string journalled = key.substr(key.find(':') + 1);  // the ledger names the gateway first
    moved.insert(journalled);
    EXPECT_EQ(count_of(history.output, "\n" + journalled + ","), 1u) << key << "\n" << history.output;
  }
  // None lost: every journalled top-up but the newest (which may be on its way) moved
  // its money and was journalled as succeeded.
  std::vector<std::pair<std::string, std::string>> journal;  // (created_at, "key,state")
  std::istringstream rows(history.output);
  std::string row;
  std::getline(rows, row);  // the header
  while (std::getline(rows, row)) {
    std::vector<std::string> cells;
    std::istringstream fields(row);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    ASSERT_GE(cells.size(), 10u) << row;
    journal.emplace_back(cells[9], cells[0] + "," + cells[7]);
  }
  std::sort(journal.begin(), journal.end());
  int lost = 0;
  for (std::size_t i = 0; i + 1 < journal.size(); ++i) {
    const std::string& key_state = journal[i].second;
    const std::string key = key_state.substr(0, key_state.find(','));
    if (key_state.substr(key.size() + 1) != "succeeded" || !moved.count(key)) {
      ++lost;
      ADD_FAILURE() << "lost: " << key_state;
    }
  }
  // topupctl status lists the live instances, sharing every account — as of the last
  // round, so right after a restart it may still show the handover: asked again.
  CommandResult status;
  EXPECT_TRUE(eventually([&] {
    status = topupctl(sockets[0], {"status"});
    return status.output.find("accounts without an owner: 0") != std::string::npos;
  }, 10s)) << status.output;
  EXPECT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find("instances sharing the store (lease 3s"), std::string::npos) << status.output;
  std::sort(takeovers.begin(), takeovers.end());
  std::string per_point;
  for (const auto& [point, hits] : points_hit) per_point += fmt::format(" {}={}", point, hits);
  std::printf("ha: runs=%d sigkill=%d partitions=%d sigterm=%d postgres_restarts=%d crash-point kills=%d "
              "top-ups=%zu duplicates=%zu lost=%d takeover p50=%lld ms p99=%lld ms\nha: crash points:%s\n",
              runs, done[Fault::kill], done[Fault::partition], done[Fault::term], done[Fault::postgres_restart],
              done[Fault::crash_point], keys.size(), keys.size() - distinct.size(), lost,
              takeovers.empty() ? 0LL : takeovers[takeovers.size() / 2],
              takeovers.empty() ? 0LL : takeovers[(takeovers.size() * 99) / 100], per_point.c_str());
}

// A webhook may reach any instance (a load balancer does not know the owners): the one
// that receives it verifies and stores it, and the owner of the account it names acts
// on it — the other does not.
TEST(InstancesTest, AWebhookEitherInstanceReceivesIsActedOnByTheOwnerOfItsAccount) {
  Sandbox sandbox(sandbox_config());
  TempDir dir;
  dir.write("pg-dsn", PostgresServer::shared().fresh_database() + "\n");
  const std::map<std::string, std::string> env{{"CREDENTIALS_DIRECTORY", dir.path()}};
  const std::string secret = "whsec_shared_inbox";
  Daemon a(instance_config(sandbox.url(), dir.file("a.sock"), secret), env);
  Daemon b(instance_config(sandbox.url(), dir.file("b.sock"), secret), env);
  ASSERT_TRUE(a.wait_ready()) << a.log();
  ASSERT_TRUE(b.wait_ready()) << b.log();
  const double total = kQuiet + 1;
  ASSERT_TRUE(eventually([&] { return owned(a) + owned(b) == total && owned(a) > 0 && owned(b) > 0; }, 20s))
      << a.log() << b.log();
  // An account B owns, announced to A.
  int index = 0;
  while (index < kQuiet && !holds(b, "quiet-" + std::to_string(index))) ++index;
  ASSERT_LT(index, kQuiet);
  const std::string body = fmt::format(R"({{"id":"evt_inbox_1","object":"event","type":"balance.available",)"
                                       R"("account":"acct_{}","data":{{"object":{{"object":"balance"}}}}}})",
                                       index);
  const std::string t = std::to_string(static_cast<long long>(std::time(nullptr)));
  const std::string signature =
      "t=" + t + ",v1=" + adapters::crypto::hex(adapters::crypto::hmac_sha256(secret, t + "." + body));
  const auto answer = http_request("POST", "127.0.0.1", a.webhook_port(), "/webhooks/stripe", body,
                                   {{"Content-Type", "application/json"}, {"Stripe-Signature", signature}});
  EXPECT_EQ(answer.status, 200) << answer.body << a.log();
  const std::string acted = fmt::format("webhook accepted provider=stripe event=evt_inbox_1 type=balance.available "
                                        "topup=- status=- polling=quiet-{}",
                                        index);
  EXPECT_TRUE(eventually([&] { return b.log().find(acted) != std::string::npos; }, 10s)) << b.log();
  std::this_thread::sleep_for(1s);  // A reads the inbox twice a second too
  EXPECT_EQ(a.log().find("event=evt_inbox_1"), std::string::npos) << a.log();
  // Delivered again, to B this time: the same event, already received, changes nothing.
  const auto again = http_request("POST", "127.0.0.1", b.webhook_port(), "/webhooks/stripe", body,
                                  {{"Content-Type", "application/json"}, {"Stripe-Signature", signature}});
  EXPECT_EQ(again.status, 200);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(count_of(b.log(), "webhook accepted provider=stripe event=evt_inbox_1"), 1u) << b.log();
  EXPECT_NE(b.log().find("webhook duplicate: already received"), std::string::npos) << b.log();
}

// What `topupctl status` says of the instances: this one's id and who sends notifications.
std::pair<std::string, std::string> self_and_sender(const std::string& socket) {
  const auto status = topupctl(socket, {"status"});
  std::smatch self, sender;
  std::regex_search(status.output, self, std::regex(R"(this one is ([^)]+)\))"));
  std::regex_search(status.output, sender, std::regex(R"(notifications sent by: (\S+))"));
  return {self.empty() ? "" : self[1].str(), sender.empty() ? "" : sender[1].str()};
}

// Alerts are decided by the owner of their account and sent by whichever instance holds
// the outbox: each once, the other instance sending none.
TEST(InstancesTest, EveryNotificationIsSentOnceByTheInstanceThatHoldsTheOutbox) {
  Sandbox sandbox(sandbox_config());
  TempDir dir;
  dir.write("pg-dsn", PostgresServer::shared().fresh_database() + "\n");
  const std::map<std::string, std::string> env{{"CREDENTIALS_DIRECTORY", dir.path()}};
  const std::string sockets[2] = {dir.file("a.sock"), dir.file("b.sock")};
  std::unique_ptr<Daemon> instances[2];
  auto start = [&](int i) {
    instances[i] = std::make_unique<Daemon>(instance_config(sandbox.url(), sockets[i]), env);
    return instances[i]->wait_ready();
  };
  ASSERT_TRUE(start(0)) << instances[0]->log();
  ASSERT_TRUE(start(1)) << instances[1]->log();
  const double total = kQuiet + 1;
  auto shared = [&] {
    const double a = owned(*instances[0]), b = owned(*instances[1]);
    return a + b == total && a > 0 && b > 0 && !self_and_sender(sockets[0]).second.empty();
  };
  // Settled: the outbox and `low` each sit with the instance their placement over the two
  // live ids gives them. Until then the survivor of a restart may still hold what it is
  // about to hand back, and reading then would restart the wrong instance.
  const std::string outbox = "@outbox";  // the outbox's lease, as the instances name it (Leases::kOutbox)
  auto settled = [&] {
    return eventually([&] {
      if (!shared()) return false;
      const std::vector<std::string> ids = {self_and_sender(sockets[0]).first, self_and_sender(sockets[1]).first};
      const std::string sending = self_and_sender(sockets[0]).second;
      const int low_owner = core::owner_of("low", ids) == ids[0] ? 0 : 1;
      return sending == core::owner_of(outbox, ids) && holds(*instances[low_owner], "low") &&
             !holds(*instances[1 - low_owner], "low");
    }, 30s);
  };
  // Ids are random: until the sender is not the owner of `low`, restart the sender.
  int sender = -1, decider = -1;
  for (int attempt = 0; attempt < 10; ++attempt) {
    ASSERT_TRUE(settled()) << instances[0]->log() << instances[1]->log();
    const std::string id = self_and_sender(sockets[0]).second;
    sender = self_and_sender(sockets[0]).first == id ? 0 : 1;
    decider = holds(*instances[0], "low") ? 0 : 1;
    if (sender != decider) break;
    instances[sender]->process().signal(SIGTERM);
    ASSERT_EQ(instances[sender]->process().wait(5s), 0);
    ASSERT_TRUE(start(sender)) << instances[sender]->log();
  }
  ASSERT_NE(sender, decider) << "the outbox stayed with the owner of low through ten restarts";
  const auto alerts = [&](int i) { return count_of(instances[i]->log(), "notifier=ops rule=refill"); };
  const std::size_t sent_before = alerts(sender);
  const std::size_t decider_sent_before = alerts(decider);  // while it held the outbox, before
  // Two alerts decided by one instance, sent by the other.
  ASSERT_TRUE(eventually([&] { return alerts(sender) >= sent_before + 2; }, 40s))
      << instances[sender]->log() << instances[decider]->log();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(alerts(decider), decider_sent_before) << instances[decider]->log();
  // None twice: each firing alert the sender logged names its own top-up, so each line is
  // unlike every other (two episodes may resolve at the same balance, so resolutions are
  // counted instead: never more than the firings).
  std::vector<std::string> firing;
  std::size_t resolved = 0;
  std::istringstream log(instances[sender]->log());
  for (std::string line; std::getline(log, line);) {
    if (line.find("notifier=ops rule=refill") == std::string::npos) continue;
    if (line.find("ALERT FIRING") != std::string::npos) firing.push_back(line.substr(line.find(' ')));
    if (line.find("ALERT RESOLVED") != std::string::npos) ++resolved;
  }
  EXPECT_EQ(std::set<std::string>(firing.begin(), firing.end()).size(), firing.size()) << instances[sender]->log();
  EXPECT_LE(resolved, firing.size() + 1) << instances[sender]->log();  // + one episode fired before the handover
}

}  // namespace
}  // namespace topupd::testing
