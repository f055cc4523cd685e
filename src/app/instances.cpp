// Several instances on one PostgreSQL store (leases.hpp): the leases started before
// the journal is read, the parts told which accounts are this instance's, what an
// account changing hands does — read again from the store when taken over, its
// verifications dropped when given up — and the shared webhook inbox, whose events the
// owner of what they name acts on.
#include <unistd.h>

#include <algorithm>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::json_string;

namespace {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

void Daemon::start_leases() {
  const config::Config& config = generation_.config;
  lease_store_ = adapters::open_pg_leases(config.store_dsn);
  // Unique per process: a restarted instance is a new one, and takes its accounts back
  // only through the store, with a new epoch.
  std::random_device entropy;
  const std::string host = host_name();
  adapters::InstanceRow me{fmt::format("{}:{}:{:08x}", host, ::getpid(), entropy()), host, clock_.now(), {}};
  leases_ = std::make_unique<Leases>(
      io_, clock_, metrics_, *lease_store_, adapters::open_pg_leases(config.store_dsn), me, config.store_lease,
      LeaseNeighbours{[this](const std::vector<std::string>& accounts) { took_over(accounts); },
                      [this](const std::vector<std::string>& accounts) { gave_up(accounts); }});
  store_->set_fence(leases_.get());
  poller_->set_owner([this](const std::string& account) { return owns(account); });
  alerts_->set_delivering([this] { return leases_->owns(std::string(Leases::kOutbox)); });
  intake_->share_events();
  leases_->configure(config);
  leases_->round();
  spdlog::info("several instances may share this store instance={} lease={} accounts_held={}", field(me.id),
               core::format_duration(config.store_lease), leases_->held().size());
  leases_->start();
  asio::co_spawn(io_, inbox_loop(), adapters::log_failure("shared webhook inbox"));
}

asio::awaitable<void> Daemon::inbox_loop() {
  asio::steady_timer timer(io_);
  core::MonotonicTime forgotten = clock_.monotonic();
  while (!stopping_) {
    timer.expires_after(std::chrono::milliseconds(500));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
    read_inbox();
    if (clock_.monotonic() - forgotten > std::chrono::minutes(1)) {
      forgotten = clock_.monotonic();
      // An event nobody acted on for an hour names what no instance owns any more.
      const core::Timestamp before = clock_.now() - std::chrono::hours(1);
      try {
        lease_store_->forget_inbox(before);
      } catch (const adapters::StoreError& e) {
        metrics_.count_store_error("webhook");
        spdlog::warn("cannot clean the shared webhook inbox: {}", e.what());
      }
      std::erase_if(inbox_seen_, [&](const auto& seen) { return seen.second < before; });
    }
  }
}

void Daemon::read_inbox() {
  try {
    for (const auto& entry : lease_store_->inbox(500)) {
      if (inbox_seen_.count(entry.seq)) continue;
      const auto event = adapters::webhooks::event_from_json(entry.payload);
      if (!event) {
        spdlog::error("dropping an event of the shared webhook inbox this topupd cannot read provider={} seq={}",
                      entry.provider, entry.seq);
        lease_store_->take_out(entry.seq);
        continue;
      }
      switch (apply_webhook(entry.provider, *event)) {
        case WebhookEffect::acted:
          lease_store_->take_out(entry.seq);
          break;
        case WebhookEffect::everywhere:
          inbox_seen_.emplace(entry.seq, entry.received_at);  // each instance woke its own accounts
          break;
        case WebhookEffect::elsewhere:
          break;  // its owner takes it out
      }
    }
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("webhook");
    spdlog::warn("cannot read the shared webhook inbox: {}", e.what());
  }
}

bool Daemon::owns(const std::string& account) const {
  return !leases_ || (leases_->owns(account) && !unread_.count(account));
}

void Daemon::took_over(const std::vector<std::string>& accounts) {
  for (const auto& account : accounts) {
    if (account != Leases::kOutbox) unread_.insert(account);
  }
  // At start the whole journal is read next (load_state); until then nothing acts.
  if (!state_loaded_ || unread_.empty()) return;
  try {
    std::map<std::string, std::vector<core::TopUpRecord>> by_account;
    std::set<std::string> seen;
    const core::Timestamp since = clock_.now() - core::keep_top_ups_for(generation_.config.rules);
    auto collect = [&](std::vector<core::TopUpRecord> records) {
      for (auto& record : records) {
        if (unread_.count(record.account) && seen.insert(record.key).second) {
          by_account[record.account].push_back(std::move(record));
        }
      }
    };
    collect(store_->top_ups_created_since(since));
    collect(store_->open_top_ups());
    const auto states = store_->load_rule_states();
    for (auto& [account, records] : by_account) {
      std::sort(records.begin(), records.end(),
                [](const core::TopUpRecord& a, const core::TopUpRecord& b) { return a.created_at < b.created_at; });
      executor_->adopt(account, records);
    }
    runner_->adopt_states(states, unread_, clock_.now());
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("load");
    spdlog::error("cannot read the journal of accounts taken over: {}; they are not acted on until it can be read "
                  "accounts={}",
                  e.what(), unread_.size());
    return;
  }
  const std::set<std::string> read = std::move(unread_);
  unread_.clear();
  for (const auto& account : read) poller_->wake(account);
}

void Daemon::gave_up(const std::vector<std::string>& accounts) {
  for (const auto& account : accounts) {
    unread_.erase(account);
    executor_->release(account);
  }
  // Its new owner exports its series; two instances exporting one account would be read as two.
  std::set<std::string> keep;
  for (const auto& account : generation_.config.accounts) {
    if (owns(account.name)) keep.insert(account.name);
  }
  metrics_.retain_accounts(keep);
}

std::string Daemon::instances_json() const {
  if (!leases_) return "null";
  // The last round's view of the others, and this instance's own leases as they are now
  // (the view was read before this round took or gave any).
  const adapters::LeaseView& view = leases_->view();
  const auto mine = leases_->held();
  std::set<std::string> owned_somewhere;
  std::map<std::string, std::size_t> owned;
  for (const auto& [account, epoch] : mine) {
    if (account == Leases::kOutbox) continue;
    owned_somewhere.insert(account);
    owned[leases_->instance()] += 1;
  }
  for (const auto& lease : view.leases) {
    if (lease.owner.empty() || lease.owner == leases_->instance() || lease.expires_at <= view.now ||
        lease.account == Leases::kOutbox || !owned_somewhere.insert(lease.account).second) {
      continue;
    }
    owned[lease.owner] += 1;
  }
  std::string list;
  for (const auto& instance : view.instances) {
    list += fmt::format("{}{{\"id\":{},\"host\":{},\"started_at\":{},\"heartbeat_at\":{},\"accounts\":{},\"self\":{}}}",
                        list.empty() ? "" : ",", json_string(instance.id), json_string(instance.host),
                        json_string(core::format_rfc3339(instance.started_at)),
                        json_string(core::format_rfc3339(instance.heartbeat_at)), owned[instance.id],
                        instance.id == leases_->instance() ? "true" : "false");
  }
  std::size_t unowned = 0;
  for (const auto& account : generation_.config.accounts) unowned += owned_somewhere.count(account.name) ? 0 : 1;
  // Who sends the notifications: the holder of the outbox's lease.
  std::string outbox = mine.count(std::string(Leases::kOutbox)) ? leases_->instance() : "";
  for (const auto& lease : view.leases) {
    if (outbox.empty() && lease.account == Leases::kOutbox && !lease.owner.empty() && lease.expires_at > view.now) {
      outbox = lease.owner;
    }
  }
  return fmt::format("{{\"self\":{},\"lease\":{},\"instances\":[{}],\"accounts_without_owner\":{},"
                     "\"notifications_sent_by\":{}}}",
                     json_string(leases_->instance()), json_string(core::format_duration(leases_->lease())), list,
                     unowned, outbox.empty() ? "null" : json_string(outbox));
}

}  // namespace topupd::app
