// The top-up executor: the part of the daemon that moves money.
//
// It owns the in-memory journal (open top-ups and the last two days'; the store has
// them all), the set of keys whose request is on the wire, and the verifications that
// watch a succeeded top-up arrive in the balance. A decided top-up is journalled
// (`planned` or `awaiting_approval`) before any request leaves; after that, every event
// — an answer, a timeout, a look-up, a restart, an approval — goes through the top-up
// machine (core/topup_machine.hpp), and the executor only performs the actions it
// returns.
//
// It may call: the store (journal writes, and waits for their flush to disk before a
// request leaves), the providers of the current config
// generation (submit and look-up, each bounded by a timeout), the clock, metrics, and
// its `Neighbours` — the accounts' watches, the current rules, and the alert outbox.
// Nothing else in the daemon writes the journal.
//
// Private to src/app.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "journal_index.hpp"
#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/adapters/providers/provider.hpp"
#include "topupd/adapters/store/durability.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/config/destinations.hpp"
#include "topupd/core/clock.hpp"
#include "topupd/core/journal_view.hpp"
#include "topupd/core/rule_inputs.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/stuck.hpp"
#include "topupd/core/topup.hpp"
#include "topupd/core/topup_machine.hpp"

namespace topupd::app {

namespace asio = boost::asio;

// What the executor may ask of the rest of the daemon.
struct ExecutorNeighbours {
  // An account's polls (null for an account no longer configured): the latest
  // balance dates a credit and is the "before" of a verification; its poll timeout
  // bounds a look-up.
  std::function<const core::AccountWatch*(const std::string& account)> watch;
  // The current rule of that name, or null.
  std::function<const core::Rule*(const std::string& rule)> rule;
  // Puts an alert in the outbox of these notifiers.
  std::function<void(const adapters::Notification&, const std::vector<std::string>& notify)> alert;
  // The last money request on the wire finished (the daemon may be waiting to stop).
  std::function<void()> money_request_finished;
  // A top-up of `rule` succeeded (`failure` nullopt), failed, lost its outcome or did
  // not show in the balance (`failure` its coded reason, core/suspension.hpp).
  std::function<void(const std::string& rule, const std::optional<std::string>& failure, const std::string& error)>
      outcome{};
  // Look at `account` again soon: a rail failed and the next one takes its need.
  std::function<void(const std::string& account)> wake{};
  // An event for the backend's subscriptions about `record`: top_up.planned,
  // top_up.succeeded, top_up.failed, top_up.needs_attention (stuck, not reflected).
  std::function<void(const std::string& type, const core::TopUpRecord& record, const std::string& reason)>
      top_up_event{};
  // Several instances: whether this one owns `account` now (leases.hpp). A top-up of an
  // account it does not own is not started, sent, looked up, approved or alerted about
  // here. Unset: every account is this instance's.
  std::function<bool(const std::string& account)> owns{};
};

// Where a decided top-up goes: resolved from the config by the rule runner.
struct TopUpRoute {
  std::string provider;        // the provider that executes it
  std::string destination_id;  // the account's id at that provider
  std::string source;          // sweep: the source account's id; direct debit: the bank account
  // Deposits: the provider that issues the ticket (empty: none), or the static
  // destination, known at once.
  std::string ticket_provider{};
  std::optional<core::DepositTicket> destination{};
  std::string account_provider{};  // the provider that holds the account funded
};

class TopUpExecutor {
 public:
  // `durability`: flushes `store`'s commits to disk; a request leaves only after the
  // flush that covers its journal record.
  TopUpExecutor(asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics, adapters::TopUpJournal& store,
                adapters::Durability& durability, ExecutorNeighbours neighbours);

  // The current config generation's providers and `dry_run`; `keep_for`: how long a
  // finished top-up stays in memory for the rules (core::keep_top_ups_for).
  void configure(std::map<std::string, std::shared_ptr<adapters::Provider>> providers, bool dry_run,
                 core::Duration keep_for = std::chrono::hours(48));
  // Destinations pinned at start (app/destinations.hpp): a top-up to any other account
  // is never journalled nor sent, whatever the config says. Unset: nothing pinned.
  // The destinations money may go to (config/destinations.hpp), checked again here: an
  // account before its top-up is planned, a deposit's bank account too, and a ticket's
  // number before it is journalled.
  void pin_destinations(config::Pins pins) {
    pins_ = std::move(pins);
  }
  // The kill switch: no new top-up starts while paused (monitoring and look-ups go on).
  void set_paused(bool paused) { paused_ = paused; }
  bool paused() const { return paused_; }

  // At start: the journal's open and recent records, oldest first. A request that may
  // have reached the provider before topupd stopped becomes unknown (looked up first).
  void load(std::vector<core::TopUpRecord> records);
  // Several instances: `account` became this instance's. Its records as the store has
  // them now (another instance may have moved them on) replace what this one knew, and
  // are treated as after a restart: a request that may have left is looked up first.
  void adopt(const std::string& account, const std::vector<core::TopUpRecord>& records);
  // `account` is no longer this instance's: its verifications and deposit floors go
  // (its new owner watches them).
  void release(const std::string& account);

  // Journals `decision` (with `rule_state`, in one transaction) and, unless it waits
  // for approval, sends it. Returns what was done, for the alert's text. Never sends
  // when paused, in dry run, or when the journal cannot be written.
  asio::awaitable<std::string> execute(const core::Decision& decision, const TopUpRoute& route,
                                       const core::RuleState& rule_state);
  // Every open top-up of `account` is looked up (approvals past their time expire first).
  asio::awaitable<void> reconcile(const std::string& account);

  // A person's approval or rejection of an awaiting top-up (topupctl, the console).
  // An approval is kept under `who`; the top-up is released — journalled `planned` in
  // the transaction that counts the approvals again, its request then leaving from its
  // own coroutine — once enough distinct people approved its current terms (two above
  // the rule's dual_approval_above). One rejection ends it.
  struct Decided {
    std::optional<std::string> refused;  // why nothing changed
    int approvals = 0;                   // distinct approvers counted, after this one
    int needed = 1;
    bool released = false;               // approved and on its way
  };
  Decided decide(const std::string& key, bool approve, const std::string& who, const std::string& how);

  // A critical alert about one deposit through its rule's notifiers, and the
  // top_up.needs_attention event: a beneficiary other than the journalled one, an amount
  // other than the ticket's.
  void alert_deposit(const core::TopUpRecord& record, const std::string& alert, const std::string& reason);
  // A ticket a person pays was paid (its gateway's callback names the payment): the
  // payment's id is what the ticket's gateway looks it up by.
  void note_payment(const std::string& key, const std::string& payment_id);
  // A callback says this succeeded top-up came back (a reversed payout): once a look-up
  // confirms it, the record keeps why (last_error starts with kReversed) and
  // TopUpReversed is alerted, critical — once.
  void check_reversal(const std::string& key);
  static constexpr std::string_view kReversed = "reversed";
  // A webhook named this top-up: its next look-up says so in the journal.
  void hint(const std::string& key, const std::string& event_id) { webhook_hints_[key] = event_id; }

  // A poll of `account`: succeeded top-ups it shows are verified.
  void observed(const std::string& account, const core::Observation& observation);
  // Verifications past their deadline raise TopUpNotReflected.
  void expire_verifications(core::Timestamp now);
  // Sent top-ups still without a final outcome after their rule's stuck_after raise
  // TopUpStuck through the rule's notifiers, once; it resolves when they end.
  void watch_stuck(core::Timestamp now);
  // Finished top-ups no rule can look at any more leave memory (the store keeps them),
  // so a daemon that runs for months keeps the same size and per-poll cost.
  void forget_old_top_ups(core::Timestamp now);
  // Records the store refused to update (a database restarting, a full disk) are written
  // again, whole, until it takes them: the journal catches up with what this run knows
  // without waiting for a restart or another instance's takeover.
  void catch_up_journal();

  // Open top-ups and those the rules may still look at, oldest first.
  const std::vector<core::TopUpRecord>& journal() const { return journal_; }
  // The journal's records of one account, of one rule (valid until the journal changes).
  core::JournalView records_of_account(const std::string& account) const {
    return {journal_, index_.of_account(account), forgotten_};
  }
  core::JournalView records_of_rule(const std::string& rule) const {
    return {journal_, index_.of_rule(rule), forgotten_};
  }
  // The record with this key; the records with this gateway reference (valid until the
  // journal changes).
  const core::TopUpRecord* record_with_key(const std::string& key) const {
    const auto seq = index_.of_key(key);
    return seq ? &journal_[*seq - forgotten_] : nullptr;
  }
  core::JournalView records_with_reference(const std::string& reference) const {
    return {journal_, index_.of_reference(reference), forgotten_};
  }
  // Money requests on the wire now (a stop waits for them).
  int requests_in_flight() const { return requests_in_flight_; }

 private:
  // A top-up the gateway reported succeeded, waiting to show in the balance.
  struct PendingVerification {
    std::string key;
    std::string rule;
    std::string account;
    core::Money amount;
    core::Money before;  // the last balance that cannot include it
    core::Timestamp settled_at;
    core::Timestamp deadline;
    int tolerance_percent;
  };
  // Ends one account's verifications whose time ran out.
  void expire_verifications(std::vector<PendingVerification>& pending, core::Timestamp now);

  // Whether the rule of `record` has a rail after the one `record` went on.
  bool next_rail_follows(const core::TopUpRecord& record) const;
  // The record with sequence number `seq` (counted from the first loaded): indices held
  // across a wait stay valid when old records are forgotten meanwhile.
  core::TopUpRecord& at(std::size_t seq);
  // Below, `index` is a record's sequence number, as `at` takes it.
  // Performs the actions in order: journal and verification actions at once, sends and
  // look-ups awaited.
  asio::awaitable<void> perform(std::size_t index, std::vector<core::TopUpAction> actions);
  // Does the leading journal and verification actions now; returns the rest.
  std::vector<core::TopUpAction> journal_until_io(std::size_t index, std::vector<core::TopUpAction> actions);
  void journal(std::size_t index, const core::TopUpAction& action);
  // Journals `submitted` with `why` and sends the request under the record's key.
  asio::awaitable<void> send(std::size_t index, std::string why);
  asio::awaitable<void> look_up(std::size_t index);
  asio::awaitable<void> confirm_reversal(std::string key);
  // Asks the ticket provider for a deposit's ticket and journals it (top_up_tickets.cpp).
  asio::awaitable<void> request_ticket(std::size_t index);
  // Tells the rule's notifiers of a ticket a person is to pay (firing), and that it was
  // paid or expired (resolved).
  void notify_ticket(const core::TopUpRecord& record, bool to_pay);
  // A notification about one top-up: its alert, account, summary and the latest balance.
  adapters::Notification notification_about(const core::TopUpRecord& record, const std::string& alert,
                                            const std::string& severity, bool firing) const;
  // What the provider is asked for the record: its key, amount and destination.
  adapters::TopUpRequest request_of(const core::TopUpRecord& record) const;
  void expire_approvals(const std::string& account, core::Timestamp now);
  // False only when the store refused the write because another instance owns the
  // account now (the caller must not act on it).
  // awaiting_approval → planned, only while `needed` approvals still count (in the
  // store's transaction); false, the record unchanged, otherwise.
  bool release(core::TopUpRecord& record, const std::string& why, int needed);
  bool transition(core::TopUpRecord& record, core::TopUpState next, const std::string& why,
                  std::optional<core::Timestamp> visible_from = std::nullopt);
  bool owned(const std::string& account) const { return !neighbours_.owns || neighbours_.owns(account); }
  // The number of records in each state, kept as records arrive, move and leave, so
  // that a transition costs two gauge updates, not a count of the whole journal.
  void recount_states();
  void count_move(std::optional<core::TopUpState> from, std::optional<core::TopUpState> to);
  void start_verification(const core::TopUpRecord& record);

  asio::io_context& io_;
  const core::Clock& clock_;
  adapters::Metrics& metrics_;
  adapters::TopUpJournal& store_;
  adapters::Durability& durability_;
  ExecutorNeighbours neighbours_;
  std::map<std::string, std::shared_ptr<adapters::Provider>> providers_;
  bool dry_run_ = false;
  bool paused_ = false;
  std::optional<config::Pins> pins_;
  std::vector<core::TopUpRecord> journal_;  // open and recent top-ups; the store has them all
  std::size_t forgotten_ = 0;               // records dropped from the front: journal_[seq - forgotten_]
  JournalIndex index_;                      // journal_'s numbers by account, rule, key and reference
  core::Duration keep_for_{std::chrono::hours(48)};
  std::set<std::string> sending_;           // keys whose request is on the wire right now
  // By account: a poll looks at its own account's. In memory: a restart stops watching.
  std::map<std::string, std::vector<PendingVerification>> verifications_;
  // An open deposit's lowest balance seen since it was planned (or since this run
  // loaded it): its money may land (a person paid, a payout settled) before topupd
  // hears it succeeded, so the balance before it is this, not the poll before the news.
  // Only open deposits are here, so a poll looks at a handful, not the journal.
  struct DepositFloor {
    std::string account;
    std::optional<core::Money> lowest;
  };
  std::map<std::string, DepositFloor> deposit_floors_;  // by key
  core::StuckWatch stuck_;  // in memory: after a restart a top-up still stuck is announced again
  std::map<std::string, std::string> webhook_hints_;  // top-up key → the webhook event that woke its look-up
  std::map<std::string, std::string> failure_codes_;  // top-up key → why the gateway refused it, until journalled
  std::set<std::string> lost_;                        // keys whose outcome was lost once already (reported once)
  std::map<std::string, core::TopUpState> behind_;    // key → the state its journal row still has
  std::map<core::TopUpState, std::int64_t> in_state_;  // journal_'s records in each state (count_move)
  int requests_in_flight_ = 0;
};

}  // namespace topupd::app
