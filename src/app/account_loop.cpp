// Per-account work: poll → rules → {alerts, top-ups}, and the top-up executor.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/sys/crash_points.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "topupd/core/runway.hpp"
#include "topupd/core/schedule.hpp"

namespace topupd::app {

using adapters::field;
using adapters::FailureKind;
using adapters::ProviderError;
using adapters::ProviderResult;
using core::TopUpState;

namespace {

// A top-up request gets longer than a balance read: banks are slow to debit.
constexpr core::Duration kTopUpTimeout{10'000};

// co_spawn hands back what a coroutine returns only if it has a default value.
template <class T>
asio::awaitable<std::optional<T>> as_optional(asio::awaitable<T> call) {
  co_return co_await std::move(call);
}

// Bounds a provider call. A timeout of a call that may have changed state at the
// provider is `outcome_unknown` (look it up before anything else); of a read, retryable.
// The deadline is a plain timer that cancels the call: on the path that matters (an
// answer in time) it costs one timer and no exception, which a race of two awaitables
// (`call || timer`) does not.
template <class T>
asio::awaitable<ProviderResult<T>> with_timeout(asio::awaitable<ProviderResult<T>> call,
                                                core::Duration timeout, FailureKind on_timeout) {
  const auto executor = co_await asio::this_coro::executor;
  // Shared with the timer's handler, which may run after this frame is gone.
  struct Deadline {
    asio::cancellation_signal cancel;
    bool passed = false;
  };
  const auto deadline = std::make_shared<Deadline>();
  asio::steady_timer timer(executor, timeout);
  timer.async_wait([deadline](const boost::system::error_code& error) {
    if (error) return;
    deadline->passed = true;
    deadline->cancel.emit(asio::cancellation_type::terminal);
  });
  std::optional<ProviderResult<T>> result;
  std::exception_ptr thrown;
  try {
    auto bounded = asio::co_spawn(executor, as_optional(std::move(call)),
                                  asio::bind_cancellation_slot(deadline->cancel.slot(), asio::use_awaitable));
    result = co_await std::move(bounded);
  } catch (...) {
    thrown = std::current_exception();
  }
  timer.cancel();
  // An answer that made it is kept even when the deadline passed in the same instant.
  if (result && *result) co_return std::move(*result);
  if (deadline->passed) {
    co_return ProviderError{on_timeout, "timeout", fmt::format("no answer within {}", core::format_duration(timeout))};
  }
  if (thrown) std::rethrow_exception(thrown);
  co_return std::move(*result);
}

adapters::ProviderTopUpStatus status_of(TopUpState state) {
  return state == TopUpState::succeeded ? adapters::ProviderTopUpStatus::succeeded
         : state == TopUpState::failed  ? adapters::ProviderTopUpStatus::failed
                                        : adapters::ProviderTopUpStatus::pending;
}

TopUpState state_of(adapters::ProviderTopUpStatus status) {
  switch (status) {
    case adapters::ProviderTopUpStatus::pending: return TopUpState::pending;
    case adapters::ProviderTopUpStatus::succeeded: return TopUpState::succeeded;
    case adapters::ProviderTopUpStatus::failed: return TopUpState::failed;
  }
  return TopUpState::unknown;
}

}  // namespace

asio::awaitable<void> Daemon::poll_loop(std::shared_ptr<AccountRuntime> account) {
  const auto& poll = account->config.poll;
  bool first = true;
  while (!account->stopped) {
    account->wake_requested = false;  // this poll answers every request made so far
    co_await poll_once(*account);
    if (account->stopped) break;
    if (account->wake_requested) continue;  // a webhook arrived while polling
    const core::Duration delay =
        account->consecutive_failures > 0
            ? core::failure_backoff(poll.every, poll.max_backoff, account->consecutive_failures,
                                    poll.jitter_percent, random_.next())
        : first ? core::first_delay(poll.every, poll.jitter_percent, random_.next())
                : core::jittered(poll.every, poll.jitter_percent, random_.next());
    first = false;
    account->timer.expires_after(delay);
    auto [error] = co_await account->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error && (account->stopped || !account->wake_requested)) break;  // retired by a reload or shutdown
    // How late the poll starts: near zero unless the event loop is overloaded.
    if (!error) metrics_.observe_poll_lateness(std::chrono::steady_clock::now() - account->timer.expiry());
  }
}

asio::awaitable<void> Daemon::poll_once(AccountRuntime& account) {
  const std::string& name = account.config.name;
  // Timed finer than the clock's milliseconds: loopback and nearby gateways answer in less.
  const auto started = std::chrono::steady_clock::now();
  // Named, not a temporary: GCC 12 destroys temporaries inside co_await expressions twice.
  const adapters::BalanceQuery query{account.config.id, account.config.balance, account.config.currency};
  auto call = account.provider->balance(query);
  auto result = co_await with_timeout(std::move(call), account.config.poll.timeout, FailureKind::retryable);
  metrics_.observe_poll_duration(name, std::chrono::steady_clock::now() - started);
  if (account.stopped) co_return;

  if (result && !(result->currency() == account.config.currency)) {
    result = ProviderError{FailureKind::not_retryable, "currency_mismatch",
                           fmt::format("provider reported {} for a {} account",
                                       result->currency().code(), account.config.currency.code())};
  }
  if (!result) {
    account.consecutive_failures += 1;
    metrics_.count_poll_error(name, result.error().reason);
    metrics_.set_balance_stale(name, true);
    spdlog::warn("balance poll failed: {} account={} reason={} consecutive_failures={}{}",
                 result.error().message, field(name), result.error().reason,
                 account.consecutive_failures,
                 account.latest ? " last_success=" + core::format_rfc3339(account.latest->at) : "");
    co_return;
  }
  account.consecutive_failures = 0;
  const core::Observation observation{name, *result, clock_.now()};
  account.previous = account.latest;
  account.latest = observation;
  if (account.history_window.count() > 0) {
    account.history.push_back(observation);
    const auto horizon = observation.at - account.history_window;
    auto keep = std::find_if(account.history.begin(), account.history.end(),
                             [&](const core::Observation& o) { return o.at >= horizon; });
    account.history.erase(account.history.begin(), keep);
  }
  metrics_.set_balance(name, observation.balance);
  metrics_.set_last_successful_poll(name, observation.at);
  metrics_.set_balance_stale(name, false);
  if (spdlog::should_log(spdlog::level::debug)) {  // the arguments cost more than the poll's own work
    spdlog::debug("balance account={} balance={}", field(name), field(core::format_human(observation.balance)));
  }

  // Known top-ups first: an unknown outcome is looked up before anything new starts.
  co_await reconcile(account);
  if (account.stopped || stopping_) co_return;
  check_verifications(name, observation);
  co_await evaluate_rules(account, observation.at, std::nullopt, false, "");
}

std::optional<core::Observation> Daemon::fresh_latest(const std::string& name, core::Timestamp now) const {
  auto it = accounts_.find(name);
  if (it == accounts_.end() || !it->second->latest || it->second->consecutive_failures > 0) return std::nullopt;
  const auto& poll = it->second->config.poll;
  // Fresh: the last poll succeeded and the next one is not overdue.
  if (now - it->second->latest->at > 2 * poll.every + poll.timeout) return std::nullopt;
  return it->second->latest;
}

core::DailyUsage Daemon::usage_today(const core::Rule& rule, core::Timestamp now) const {
  const auto day = config_.zone.local_day(now);
  const config::AccountConfig* account = config_.find_account(rule.account);
  core::DailyUsage usage{day, core::Money(0, account ? account->currency : *core::Currency::find("IDR")), 0};
  // Derived from the journal, so it cannot drift from what was actually started.
  for (const auto& record : journal_) {
    if (record.rule != rule.name || !core::counts_toward_limits(record.state)) continue;
    if (config_.zone.local_day(record.created_at) != day) continue;
    if (auto total = usage.amount.checked_add(record.amount)) usage.amount = *total;
    usage.count += 1;
  }
  return usage;
}

core::RuleInputs Daemon::inputs_for(const core::Rule& rule, const AccountRuntime& account, core::Timestamp now,
                                    std::vector<core::Credit>& credits) const {
  core::RuleInputs in;
  in.now = now;
  in.latest = account.latest;
  in.monitoring_since = account.monitoring_since;
  in.history = account.history;
  if (rule.when.kind == core::Condition::Kind::runway_below) {
    for (const auto& record : journal_) {
      if (record.account == rule.account && record.state == TopUpState::succeeded && record.settled_at) {
        credits.push_back({*record.settled_at, record.amount});
      }
    }
  }
  in.own_credits = credits;
  if (rule.top_up && rule.top_up->method == core::TopUpMethod::sweep) {
    if (auto source = fresh_latest(rule.top_up->source, now)) in.source_balance = source->balance;
  }
  if (rule.top_up) {  // both read the journal; only a top-up needs them
    in.top_up_in_flight = top_up_in_flight(rule.account);
    in.today = usage_today(rule, now);
  }
  return in;
}

asio::awaitable<void> Daemon::evaluate_rules(const AccountRuntime& account, core::Timestamp now,
                                             std::optional<core::Condition::Kind> only_kind, bool schedule_due,
                                             const std::string& only_rule) {
  using Kind = core::Condition::Kind;
  std::vector<core::Decision> top_ups;
  std::vector<core::Decision> alerts;
  const auto own = rules_by_account_.find(account.config.name);
  if (own == rules_by_account_.end()) co_return;
  for (const core::Rule* each : own->second) {
    const core::Rule& rule = *each;
    if (!only_rule.empty() && rule.name != only_rule) continue;
    // Polls drive balance conditions; the staleness tick and the schedules drive theirs.
    const bool timed = rule.when.kind == Kind::stale_for || rule.when.kind == Kind::schedule;
    if (only_kind ? rule.when.kind != *only_kind : timed) continue;
    std::vector<core::Credit> credits;
    core::RuleInputs inputs = inputs_for(rule, account, now, credits);
    inputs.schedule_due = schedule_due;
    if (rule.when.kind == Kind::runway_below) {
      metrics_.set_runway(rule.account, core::estimate_runway(inputs.history, inputs.own_credits, now, rule.when.window).runway);
    }
    core::RuleState& state = rule_states_[rule.name];
    const auto previous = state.phase;
    auto evaluation = core::evaluate(rule, state, inputs);
    const bool changed = !(state == evaluation.next);
    state = evaluation.next;
    const bool tops_up = std::any_of(evaluation.decisions.begin(), evaluation.decisions.end(),
                                     [](const core::Decision& d) { return d.kind == core::DecisionKind::top_up; });
    // A rule that decided a top-up is stored together with it, in one transaction.
    if (changed && !tops_up) persist_rule_state(rule.name);
    if (state.phase != previous) {
      metrics_.set_rule_state(rule.name, state.phase);
      spdlog::debug("rule state changed rule={} from={} to={}", field(rule.name), core::to_string(previous),
                    core::to_string(state.phase));
    }
    if (evaluation.top_up_held_back) {
      spdlog::log(schedule_due ? spdlog::level::warn : spdlog::level::debug, "top-up held back: {} rule={} account={}",
                  *evaluation.top_up_held_back, field(rule.name), field(rule.account));
    }
    for (auto& decision : evaluation.decisions) {
      (decision.kind == core::DecisionKind::top_up ? top_ups : alerts).push_back(std::move(decision));
    }
  }
  std::map<std::string, std::string> actions;  // rule → what was done
  std::map<std::string, std::string> keys;     // rule → the top-up it decided
  for (const auto& decision : top_ups) {
    actions[decision.rule] = co_await execute(decision, account);
    keys[decision.rule] = decision.idempotency_key;
  }
  for (const auto& decision : alerts) notify(decision, actions[decision.rule], keys[decision.rule]);
}

asio::awaitable<void> Daemon::staleness_loop() {
  // Stale conditions change with time alone, so they are checked every second rather
  // than only when a poll answers (a poll that hangs answers late).
  while (!stopping_) {
    const core::Timestamp now = clock_.now();
    expire_verifications(now);
    for (const auto& [name, account] : accounts_) {
      const std::shared_ptr<AccountRuntime> keep = account;  // a reload may replace the map meanwhile
      metrics_.set_balance_stale(name, !fresh_latest(name, now));
      if (!stale_watched_.count(name)) continue;
      co_await evaluate_rules(*keep, now, core::Condition::Kind::stale_for, false, "");
      if (stopping_) co_return;
    }
    staleness_timer_.expires_after(std::chrono::seconds(1));
    auto [error] = co_await staleness_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error) co_return;
  }
}

asio::awaitable<void> Daemon::schedule_loop(std::shared_ptr<ScheduleRuntime> schedule) {
  while (!schedule->stopped) {
    const core::Rule* rule = find_rule(schedule->rule);
    if (!rule || !rule->when.schedule) co_return;
    const core::Timestamp now = clock_.now();
    const auto due = core::next_due(*rule->when.schedule, config_.zone, now);
    if (!due) {
      spdlog::warn("schedule never comes due rule={} schedule={}", field(rule->name), field(rule->when.schedule->text));
      co_return;
    }
    spdlog::debug("next scheduled run rule={} at={}", field(rule->name), core::format_rfc3339(*due));
    schedule->timer.expires_after(*due - now);
    auto [error] = co_await schedule->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error || schedule->stopped) co_return;
    if (clock_.now() < *due) continue;  // woke early (the wall clock was set back): sleep again
    const std::string rule_name = schedule->rule;
    const std::string account_name = rule->account;
    auto account = accounts_.find(account_name);
    if (account == accounts_.end()) continue;
    const std::shared_ptr<AccountRuntime> keep = account->second;
    if (!fresh_latest(account_name, *due)) {
      spdlog::warn("scheduled top-up skipped: no fresh balance rule={} account={}", field(rule_name), field(account_name));
      continue;
    }
    co_await evaluate_rules(*keep, *due, core::Condition::Kind::schedule, true, rule_name);
  }
}

void Daemon::persist_rule_state(const std::string& rule) {
  try {
    store_->save_rule_state(rule, rule_states_[rule]);
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("rule_state");
    spdlog::error("cannot store the rule state: {} rule={}", e.what(), field(rule));
  }
}

void Daemon::notify(const core::Decision& decision, const std::string& action, const std::string& top_up_key) {
  const core::Rule* rule = find_rule(decision.rule);
  if (!rule || !rule->alert) return;
  if (decision.kind == core::DecisionKind::alert_firing) metrics_.count_alert(rule->name, rule->alert->severity);
  adapters::Notification n;
  n.kind = decision.kind;
  n.rule = decision.rule;
  n.account = decision.account;
  n.severity = rule->alert->severity;
  n.reason = decision.reason;
  n.balance = decision.balance;
  n.threshold = decision.threshold;
  n.runway = decision.runway;
  n.action = action;
  n.at = clock_.now();
  auto state = rule_states_.find(rule->name);
  n.fired_at = state != rule_states_.end() && state->second.fired_at ? *state->second.fired_at : n.at;
  for (const auto& record : journal_) {
    if (top_up_key.empty() || record.key != top_up_key) continue;
    n.top_up = adapters::TopUpSummary{record.key, record.amount, std::string(core::to_string(record.method)),
                                      std::string(core::to_string(record.state)),
                                      record.state == TopUpState::awaiting_approval};
  }
  const bool people_hear_it = n.kind != core::DecisionKind::alert_resolved || rule->alert->send_resolved;
  enqueue_notification(n, rule->alert->notify, !people_hear_it);
}

void Daemon::count_states() {
  std::map<TopUpState, std::int64_t> counts;
  for (const auto& r : journal_) counts[r.state] += 1;
  for (auto state : core::kAllTopUpStates) metrics_.set_top_ups_in_state(state, counts[state]);
}

bool Daemon::top_up_in_flight(const std::string& account) const {
  for (const auto& record : journal_) {
    if (record.account == account && !core::is_terminal(record.state)) return true;
  }
  return false;
}

const core::Rule* Daemon::find_rule(const std::string& name) const {
  const auto it = rules_by_name_.find(name);
  return it == rules_by_name_.end() ? nullptr : it->second;
}

void Daemon::index_rules() {
  rules_by_name_.clear();
  rules_by_account_.clear();
  stale_watched_.clear();
  for (const auto& rule : config_.rules) {
    rules_by_name_.emplace(rule.name, &rule);
    rules_by_account_[rule.account].push_back(&rule);
    if (rule.when.kind == core::Condition::Kind::stale_for) stale_watched_.insert(rule.account);
  }
}

void Daemon::transition(TopUpRecord& record, TopUpState next, const std::string& why,
                        std::optional<core::Timestamp> visible_from) {
  if (record.state == next) return;
  if (!core::can_transition(record.state, next)) {
    spdlog::error("refusing an impossible top-up transition topup={} from={} to={}", field(record.key),
                  core::to_string(record.state), core::to_string(next));
    return;
  }
  const TopUpState from = record.state;
  record.state = next;
  // A credit is dated by the first poll that can include it: a later one when the
  // answer came with the request, this poll's when a look-up found it settled.
  if (next == TopUpState::succeeded) record.settled_at = visible_from.value_or(clock_.now());
  try {
    store_->record_transition(record, from, clock_.now(), why);
    adapters::crash_point("transition.after_write");
  } catch (const adapters::StoreError& e) {
    // The provider's answer is not lost for this run; after a restart the journal's
    // older state makes topupd look the top-up up again, which is safe.
    metrics_.count_store_error("transition");
    spdlog::error("cannot store a top-up transition: {} topup={} to={}", e.what(), field(record.key),
                  core::to_string(next));
  }
  count_states();

  const auto level = next == TopUpState::failed || next == TopUpState::unknown ? spdlog::level::warn
                                                                                : spdlog::level::info;
  spdlog::log(level, "top-up {}{} topup={} rule={} account={} method={} amount={} reference={}",
              core::to_string(next), why.empty() ? "" : ": " + why, field(record.key), field(record.rule),
              field(record.account), core::to_string(record.method),
              field(core::format_human(record.amount)), record.reference.empty() ? "-" : record.reference);
  if (next == TopUpState::succeeded) start_verification(record);
  if (core::is_terminal(next)) {
    metrics_.count_top_up(record.rule, record.method, core::to_string(next));
    if (next == TopUpState::succeeded) metrics_.add_top_up_amount(record.account, record.method, record.amount);
  }
}

asio::awaitable<std::string> Daemon::execute(const core::Decision& decision, const AccountRuntime& account) {
  const core::TopUpSpec& spec = *decision.top_up;
  const std::string via = spec.via.empty() ? account.config.provider : spec.via;
  std::string source = spec.source;
  if (spec.method == core::TopUpMethod::sweep) {
    const config::AccountConfig* source_account = config_.find_account(spec.source);
    source = source_account ? source_account->id : spec.source;
  }
  if (paused_) {
    spdlog::warn("paused: not starting a {} of {} rule={} account={} reason={}", core::to_string(spec.method),
                 field(core::format_human(*decision.amount)), field(decision.rule), field(decision.account),
                 field(decision.reason));
    metrics_.count_top_up(decision.rule, spec.method, "paused");
    co_return "not started: topupd is paused";
  }
  if (config_.dry_run) {
    spdlog::info("dry run: would start a {} of {} rule={} account={} topup={} reason={}",
                 core::to_string(spec.method), field(core::format_human(*decision.amount)),
                 field(decision.rule), field(decision.account), field(decision.idempotency_key),
                 field(decision.reason));
    metrics_.count_top_up(decision.rule, spec.method, "dry_run");
    co_return fmt::format("dry run: would {} {}", core::to_string(spec.method),
                          core::format_human(*decision.amount));
  }
  // The record is durable, with its key and the rule's state, before any request leaves.
  TopUpRecord record{decision.idempotency_key, decision.rule, decision.account, via, spec.method,
                     account.config.id, source, *decision.amount,
                     decision.needs_approval ? TopUpState::awaiting_approval : TopUpState::planned, "",
                     "", clock_.now(), std::nullopt};
  adapters::crash_point("plan.before_write");
  try {
    if (!store_->plan_top_up(record, decision.rule, rule_states_[decision.rule])) {
      spdlog::warn("top-up already journalled; it is looked up, not sent again topupd={} rule={}",
                   field(decision.idempotency_key), field(decision.rule));
      co_return fmt::format("{} already journalled", decision.idempotency_key);
    }
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("plan");
    metrics_.count_top_up(decision.rule, spec.method, "store_error");
    spdlog::error("refusing to move money: the journal cannot be written: {} rule={} account={} amount={}", e.what(),
                  field(decision.rule), field(decision.account), field(core::format_human(*decision.amount)));
    co_return "not started: the journal cannot be written";
  }
  adapters::crash_point("plan.after_write");
  journal_.push_back(std::move(record));
  const std::size_t index = journal_.size() - 1;
  count_states();
  if (decision.needs_approval) {
    spdlog::warn("top-up awaits approval: {} topup={} rule={} account={} method={} amount={}", decision.reason,
                 field(decision.idempotency_key), field(decision.rule), field(decision.account),
                 core::to_string(spec.method), field(core::format_human(*decision.amount)));
    co_return fmt::format("{} {} of {} awaiting approval", core::to_string(spec.method), decision.idempotency_key,
                          core::format_human(*decision.amount));
  }
  spdlog::info("top-up planned: {} topup={} rule={} account={} method={} amount={}", decision.reason,
               field(decision.idempotency_key), field(decision.rule), field(decision.account),
               core::to_string(spec.method), field(core::format_human(*decision.amount)));
  co_await send_to_provider(index, false);
  const TopUpRecord& sent = journal_[index];
  co_return fmt::format("{} {} of {} {}", core::to_string(sent.method), sent.key, core::format_human(sent.amount),
                        core::to_string(sent.state));
}

asio::awaitable<void> Daemon::send_to_provider(std::size_t index, bool resubmission) {
  auto provider = providers_.find(journal_[index].provider);
  if (provider == providers_.end()) {
    spdlog::error("top-up provider is no longer configured topup={} provider={}",
                  field(journal_[index].key), field(journal_[index].provider));
    co_return;
  }
  const TopUpRecord& r = journal_[index];
  // One request per key at a time: an approval sends from its own coroutine while the
  // account's loop may be reconciling.
  if (!sending_.insert(r.key).second) co_return;
  adapters::crash_point("send.before_submitted");
  transition(journal_[index], TopUpState::submitted, resubmission ? "sent again under the same key" : "");
  adapters::crash_point("send.before_request");
  const adapters::TopUpRequest request{r.key, r.method, r.destination_id, r.source, r.amount};
  ++money_operations_in_flight_;
  auto call = provider->second->submit(request);
  auto result = co_await with_timeout(std::move(call), kTopUpTimeout, FailureKind::outcome_unknown);
  adapters::crash_point("send.after_response");
  money_operation_finished();
  sending_.erase(request.idempotency_key);
  TopUpRecord& record = journal_[index];  // the journal may have grown meanwhile
  if (result) {
    record.reference = result->reference;
    transition(record, state_of(result->status), result->failure);
  } else if (result.error().kind == FailureKind::not_retryable) {
    record.last_error = result.error().message;
    transition(record, TopUpState::failed, result.error().message);
  } else {
    // Retryable or unknown: the provider may hold it. Look it up next time; never
    // send a new request.
    record.last_error = result.error().message;
    transition(record, TopUpState::unknown, result.error().message);
  }
  adapters::crash_point("send.after_journal");
}

void Daemon::start_verification(const TopUpRecord& record) {
  auto account = accounts_.find(record.account);
  const core::Rule* rule = find_rule(record.rule);
  if (account == accounts_.end() || !rule || !rule->top_up || !record.settled_at) return;
  const AccountRuntime& runtime = *account->second;
  // The last poll that cannot include the credit: the latest if it came before the
  // settlement, otherwise the one before it.
  std::optional<core::Observation> before = runtime.latest;
  if (before && before->at >= *record.settled_at) before = runtime.previous;
  if (!before || !(before->balance.currency() == record.amount.currency())) return;
  const auto& verify = rule->top_up->verify;
  verifications_.push_back({record.key, record.rule, record.account, record.amount, before->balance,
                            *record.settled_at, *record.settled_at + verify.within, verify.tolerance_percent});
}

void Daemon::check_verifications(const std::string& account, const core::Observation& observation) {
  std::erase_if(verifications_, [&](const PendingVerification& v) {
    if (v.account != account || observation.at < v.settled_at) return false;
    if (!core::reflects_top_up(v.before, observation.balance, v.amount, v.tolerance_percent)) return false;
    spdlog::info("top-up reflected in the balance topup={} account={} before={} now={}", field(v.key), field(v.account),
                 field(core::format_human(v.before)), field(core::format_human(observation.balance)));
    return true;
  });
}

void Daemon::expire_verifications(core::Timestamp now) {
  std::erase_if(verifications_, [&](const PendingVerification& v) {
    if (now <= v.deadline) return false;
    metrics_.count_not_reflected(v.rule);
    const auto account = accounts_.find(v.account);
    const std::optional<core::Money> balance =
        account != accounts_.end() && account->second->latest ? std::optional(account->second->latest->balance)
                                                              : std::nullopt;
    const std::string reason = fmt::format(
        "TopUpNotReflected: the gateway reported {} succeeded, but within {} the balance did not rise by it "
        "(was {} before it settled{})",
        core::format_human(v.amount), core::format_duration(v.deadline - v.settled_at), core::format_human(v.before),
        balance ? ", now " + core::format_human(*balance) : "");
    spdlog::error("{} topup={} rule={} account={}", reason, field(v.key), field(v.rule), field(v.account));
    const core::Rule* rule = find_rule(v.rule);
    if (rule && rule->alert) {
      adapters::Notification n;
      n.kind = core::DecisionKind::alert_firing;
      n.rule = v.rule;
      n.account = v.account;
      n.severity = "critical";
      n.reason = reason;
      n.balance = balance;
      n.action = fmt::format("top-up {} of {} succeeded at the gateway", v.key, core::format_human(v.amount));
      n.at = n.fired_at = clock_.now();
      metrics_.count_alert(v.rule, "critical");
      enqueue_notification(n, rule->alert->notify);
    }
    return true;
  });
}

void Daemon::expire_approvals(const std::string& account, core::Timestamp now) {
  for (auto& record : journal_) {
    if (record.account != account || record.state != TopUpState::awaiting_approval) continue;
    core::Duration limit{std::chrono::hours(24)};
    if (const core::Rule* rule = find_rule(record.rule); rule && rule->top_up) limit = rule->top_up->limits.approval_expires;
    if (now - record.created_at >= limit) {
      transition(record, TopUpState::expired,
                 fmt::format("not approved within {}; nothing was sent", core::format_duration(limit)));
    }
  }
}

asio::awaitable<void> Daemon::reconcile(const AccountRuntime& account) {
  expire_approvals(account.config.name, clock_.now());
  for (std::size_t i = 0; i < journal_.size(); ++i) {
    if (journal_[i].account != account.config.name || core::is_terminal(journal_[i].state) ||
        journal_[i].state == TopUpState::awaiting_approval || sending_.count(journal_[i].key)) {
      continue;  // settled, never sent, or its request is on the wire: nothing to look up
    }
    auto provider = providers_.find(journal_[i].provider);
    if (provider == providers_.end()) continue;
    const std::string key = journal_[i].key;
    const adapters::TopUpRequest original{key, journal_[i].method, journal_[i].destination_id, journal_[i].source,
                                          journal_[i].amount};
    const std::string reference = journal_[i].reference;
    adapters::crash_point("reconcile.before_look_up");
    auto call = provider->second->look_up(original, reference);
    auto found = co_await with_timeout(std::move(call), account.config.poll.timeout, FailureKind::retryable);
    adapters::crash_point("reconcile.after_look_up");
    TopUpRecord& record = journal_[i];
    if (!found) {
      spdlog::warn("top-up look-up failed; will try again topup={} reason={}", field(key), found.error().reason);
      continue;
    }
    if (!found.value()) {
      // The provider never received it: sending the same request under the same key
      // cannot move money twice.
      if (record.state == TopUpState::unknown || record.state == TopUpState::planned) {
        adapters::crash_point("reconcile.before_resend");
        co_await send_to_provider(i, true);
      }
      continue;
    }
    const auto& receipt = *found.value();
    if (record.reference.empty()) record.reference = receipt.reference;
    if (status_of(record.state) != receipt.status || record.state == TopUpState::unknown) {
      const std::optional<core::Timestamp> polled_at =
          account.latest ? std::optional(account.latest->at) : std::nullopt;
      std::string why = receipt.failure;
      if (auto hint = webhook_hints_.find(key); hint != webhook_hints_.end()) {
        why = fmt::format("looked up after webhook {}{}", hint->second, why.empty() ? "" : "; " + why);
        webhook_hints_.erase(hint);
      }
      transition(record, state_of(receipt.status), why, polled_at);
    }
  }
}

}  // namespace topupd::app
