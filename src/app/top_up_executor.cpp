// The top-up executor: journals a decided top-up before anything leaves, then
// performs what the top-up machine (core/topup_machine.hpp) decides for each event —
// sends, look-ups, journal transitions, and tells its neighbours how each ended.
// Watching sent top-ups (verification, stuck ones) is in top_up_verification.cpp.
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "top_up_executor.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "provider_call.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/crash_points.hpp"

namespace topupd::app {

using adapters::field;
using adapters::FailureKind;
using core::TopUpRecord;
using core::TopUpState;

TopUpExecutor::TopUpExecutor(asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics,
                             adapters::TopUpJournal& store, adapters::Durability& durability,
                             ExecutorNeighbours neighbours)
    : io_(io), clock_(clock), metrics_(metrics), store_(store), durability_(durability),
      neighbours_(std::move(neighbours)) {}

void TopUpExecutor::configure(std::map<std::string, std::shared_ptr<adapters::Provider>> providers, bool dry_run,
                              core::Duration keep_for) {
  providers_ = std::move(providers);
  dry_run_ = dry_run;
  keep_for_ = keep_for;
}

void TopUpExecutor::load(std::vector<TopUpRecord> records) {
  journal_ = std::move(records);
  forgotten_ = 0;
  index_.rebuild(journal_, 0);
  recount_states();  // before the look-ups below move any record
  stuck_ = core::StuckWatch{};
  stuck_.seed(journal_);
  deposit_floors_.clear();
  for (const auto& record : journal_) {
    if (record.method == core::TopUpMethod::deposit && !core::is_terminal(record.state)) {
      deposit_floors_[record.key] = {record.account, std::nullopt};
    }
  }
  // A request that may have reached the provider before topupd stopped is looked up first.
  for (std::size_t i = 0; i < journal_.size(); ++i) {
    const core::TopUpEvent restarted{core::TopUpEvent::Kind::restarted};
    journal_until_io(i, core::step(journal_[i], restarted));
  }
}

TopUpRecord& TopUpExecutor::at(std::size_t seq) {
  // A forgotten record is never named: only finished ones long past go. Should that
  // fail, this throws rather than touch another record.
  if (seq < forgotten_) throw std::out_of_range(fmt::format("top-up record {} was forgotten", seq));
  return journal_.at(seq - forgotten_);
}

void TopUpExecutor::forget_old_top_ups(core::Timestamp now) {
  const core::Timestamp horizon = now - keep_for_;
  std::size_t drop = 0;
  while (drop < journal_.size() && core::forgettable(journal_[drop], horizon) && !sending_.count(journal_[drop].key) &&
         !behind_.count(journal_[drop].key)) {
    webhook_hints_.erase(journal_[drop].key);
    deposit_floors_.erase(journal_[drop].key);
    count_move(journal_[drop].state, std::nullopt);
    ++drop;
  }
  if (drop == 0) return;
  index_.forget(std::span<const TopUpRecord>(journal_).first(drop), forgotten_);
  journal_.erase(journal_.begin(), journal_.begin() + static_cast<std::ptrdiff_t>(drop));
  forgotten_ += drop;
  spdlog::debug("forgot finished top-ups no rule looks at any more count={} kept={}", drop, journal_.size());
}

void TopUpExecutor::catch_up_journal() {
  for (auto it = behind_.begin(); it != behind_.end();) {
    const auto seq = index_.of_key(it->first);
    if (!seq || sending_.count(it->first)) {
      it = !seq ? behind_.erase(it) : std::next(it);
      continue;
    }
    const TopUpRecord* record = &at(*seq);
    try {
      store_.record_transition(*record, it->second, clock_.now(), "written again: the store refused it before");
      spdlog::info("the journal caught up with top-up topup={} state={}", field(record->key),
                   core::to_string(record->state));
    } catch (const adapters::FencedError& e) {
      // Another instance owns the account: it reads the journal and looks the top-up up.
      spdlog::warn("not catching the journal up: {} topup={}", e.what(), field(record->key));
    } catch (const adapters::StoreError& e) {
      metrics_.count_store_error("transition");
      spdlog::debug("the journal still refuses top-up topup={}: {}", field(record->key), e.what());
      ++it;
      continue;
    }
    it = behind_.erase(it);
  }
}

void TopUpExecutor::recount_states() {
  in_state_.clear();
  for (const auto& r : journal_) in_state_[r.state] += 1;
  for (auto state : core::kAllTopUpStates) metrics_.set_top_ups_in_state(state, in_state_[state]);
}

void TopUpExecutor::count_move(std::optional<TopUpState> from, std::optional<TopUpState> to) {
  if (from == to) return;
  if (from) metrics_.set_top_ups_in_state(*from, in_state_[*from] -= 1);
  if (to) metrics_.set_top_ups_in_state(*to, in_state_[*to] += 1);
}

bool TopUpExecutor::transition(TopUpRecord& record, TopUpState next, const std::string& why,
                        std::optional<core::Timestamp> visible_from) {
  if (record.state == next) return true;
  if (!core::can_transition(record.state, next)) {
    spdlog::error("refusing an impossible top-up transition topup={} from={} to={}", field(record.key),
                  core::to_string(record.state), core::to_string(next));
    return true;
  }
  const TopUpState from = record.state;
  record.state = next;
  // A balance asked for in this very millisecond may have been asked before this end.
  if (core::is_terminal(next)) record.balance_shows_from = clock_.now() + core::Duration(1);
  // Nothing arrives for a top-up that ended otherwise: its floor is not needed.
  if (core::is_terminal(next) && next != TopUpState::succeeded) deposit_floors_.erase(record.key);
  // A credit is dated by the first poll that can include it: a later one when the
  // answer came with the request, this poll's when a look-up found it settled.
  if (next == TopUpState::succeeded) record.settled_at = visible_from.value_or(clock_.now());
  try {
    store_.record_transition(record, from, clock_.now(), why);
    adapters::crash_point("transition.after_write");
    behind_.erase(record.key);  // the whole row is written: nothing older is left behind
  } catch (const adapters::FencedError& e) {
    // Another instance owns the account now: the journal is its to write. What this one
    // knew of the record is old; it is read again if the account comes back.
    record.state = from;
    metrics_.count_store_error("transition");
    spdlog::warn("top-up transition refused: {} topup={} to={}", e.what(), field(record.key), core::to_string(next));
    return false;
  } catch (const adapters::StoreError& e) {
    // The provider's answer is not lost for this run: catch_up_journal writes it once the
    // store takes writes again. Should topupd stop before, the journal's older state makes
    // it look the top-up up, which is safe.
    behind_.try_emplace(record.key, from);
    metrics_.count_store_error("transition");
    spdlog::error("cannot store a top-up transition: {} topup={} to={}", e.what(), field(record.key),
                  core::to_string(next));
  }
  count_move(from, next);

  const auto level = next == TopUpState::failed || next == TopUpState::unknown ? spdlog::level::warn
                                                                                : spdlog::level::info;
  spdlog::log(level, "top-up {}{} topup={} rule={} account={} method={} amount={} reference={}",
              core::to_string(next), why.empty() ? "" : ": " + why, field(record.key), field(record.rule),
              field(record.account), core::to_string(record.method),
              field(core::format_human(record.amount)), record.reference.empty() ? "-" : record.reference);
  if (core::is_terminal(next)) {
    metrics_.count_top_up(record.rule, record.method, core::to_string(next));
    if (next == TopUpState::succeeded) metrics_.add_top_up_amount(record.account, record.method, record.amount);
  }
  if (neighbours_.top_up_event && (next == TopUpState::succeeded || next == TopUpState::failed)) {
    neighbours_.top_up_event(next == TopUpState::succeeded ? "top_up.succeeded" : "top_up.failed", record, why);
  }
  if (neighbours_.outcome) {
    const std::string error = record.last_error.empty() ? why : record.last_error;
    if (next == TopUpState::succeeded) {
      neighbours_.outcome(record.rule, std::nullopt, "");
    } else if (next == TopUpState::failed && next_rail_follows(record)) {
      // Not the need's outcome: its next rail is planned at the account's next look.
      spdlog::warn("top-up rail {} failed; the next rail takes the need topup={} rule={} account={}", record.rail + 1,
                   field(record.key), field(record.rule), field(record.account));
      if (neighbours_.wake) neighbours_.wake(record.account);
    } else if (next == TopUpState::failed) {
      const auto code = failure_codes_.find(record.key);
      neighbours_.outcome(record.rule, code == failure_codes_.end() ? "declined" : code->second, error);
    } else if (next == TopUpState::unknown && from == TopUpState::submitted && lost_.insert(record.key).second) {
      neighbours_.outcome(record.rule, "unknown_outcomes", error);  // once per top-up, however often resent
    }
  }
  // A ticket a person is to pay: they hear of it when it waits for them, and when it ends.
  if (core::paid_by_person(record) && next == TopUpState::pending) notify_ticket(record, true);
  if (core::paid_by_person(record) && core::is_terminal(next) && from == TopUpState::pending) {
    notify_ticket(record, false);
  }
  if (core::is_terminal(next)) {
    failure_codes_.erase(record.key);
    lost_.erase(record.key);
  }
  return true;
}

bool TopUpExecutor::next_rail_follows(const TopUpRecord& record) const {
  const core::Rule* rule = neighbours_.rule(record.rule);
  return rule && rule->top_up && record.rail + 1 < core::rail_count(*rule->top_up);
}

asio::awaitable<std::string> TopUpExecutor::execute(const core::Decision& decision, const TopUpRoute& route,
                                                    const core::RuleState& rule_state) {
  const core::TopUpSpec& spec = *decision.top_up;
  if (!owned(decision.account)) co_return "not started: another instance owns the account";
  if (paused_) {
    spdlog::warn("paused: not starting a {} of {} rule={} account={} reason={}", core::to_string(spec.method),
                 field(core::format_human(*decision.amount)), field(decision.rule), field(decision.account),
                 field(decision.reason));
    metrics_.count_top_up(decision.rule, spec.method, "paused");
    co_return "not started: topupd is paused";
  }
  const std::string& holder = route.account_provider.empty() ? route.provider : route.account_provider;
  if (pins_ && (!pins_->allows_account(holder, route.destination_id) ||
                (route.destination && !pins_->allows_bank_account(route.destination->bank, route.destination->account_no)))) {
    // check, start and reload refuse such a config; this is the last line.
    spdlog::error("refusing to move money to an account the pinned destinations file does not list rule={} "
                  "account={} provider={} destination={}",
                  field(decision.rule), field(decision.account), field(route.provider), field(route.destination_id));
    metrics_.count_top_up(decision.rule, spec.method, "unpinned");
    co_return "not started: the destination is not pinned";
  }
  if (dry_run_) {
    spdlog::info("dry run: would start a {} of {} rule={} account={} topup={} reason={}",
                 core::to_string(spec.method), field(core::format_human(*decision.amount)),
                 field(decision.rule), field(decision.account), field(decision.idempotency_key),
                 field(decision.reason));
    metrics_.count_top_up(decision.rule, spec.method, "dry_run");
    co_return fmt::format("dry run: would {} {}", core::to_string(spec.method),
                          core::format_human(*decision.amount));
  }
  // The record is durable, with its key and the rule's state, before any request leaves.
  TopUpRecord record{decision.idempotency_key, decision.rule, decision.account, route.provider, spec.method,
                     route.destination_id, route.source, *decision.amount,
                     decision.needs_approval ? TopUpState::awaiting_approval : TopUpState::planned, "",
                     "", clock_.now(), std::nullopt, decision.rail, decision.need};
  record.ticket_provider = route.ticket_provider;
  record.ticket = route.destination;
  adapters::crash_point("plan.before_write");
  try {
    if (!store_.plan_top_up(record, decision.rule, rule_state)) {
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
  if (record.method == core::TopUpMethod::deposit) {
    // From the balance the decision was made on: the money cannot be in it yet.
    const core::AccountWatch* watch = neighbours_.watch(record.account);
    deposit_floors_[record.key] = {record.account, watch && watch->latest ? std::optional(watch->latest->balance)
                                                                          : std::nullopt};
  }
  journal_.push_back(std::move(record));
  const std::size_t index = forgotten_ + journal_.size() - 1;
  index_.add(journal_.back(), index);
  count_move(std::nullopt, journal_.back().state);
  if (neighbours_.top_up_event) neighbours_.top_up_event("top_up.planned", at(index), decision.reason);
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
  // Named, not temporaries: GCC 12 destroys temporaries inside co_await expressions twice.
  const core::TopUpEvent planned{core::TopUpEvent::Kind::planned};
  auto actions = core::step(at(index), planned);
  co_await perform(index, std::move(actions));
  const TopUpRecord& sent = at(index);
  co_return fmt::format("{} {} of {} {}", core::to_string(sent.method), sent.key, core::format_human(sent.amount),
                        core::to_string(sent.state));
}

void TopUpExecutor::journal(std::size_t index, const core::TopUpAction& action) {
  TopUpRecord& record = at(index);
  if (!action.reference.empty()) {
    record.reference = action.reference;
    index_.referenced(record, index);
  }
  if (!action.error.empty()) record.last_error = action.error;
  std::optional<core::Timestamp> visible_from;
  if (action.dated_by_latest_poll) {
    // A look-up found it settled: the latest poll may already include it.
    if (const core::AccountWatch* watch = neighbours_.watch(record.account); watch && watch->latest) {
      visible_from = watch->latest->at;
    }
  }
  transition(record, action.to, action.why, visible_from);
}

std::vector<core::TopUpAction> TopUpExecutor::journal_until_io(std::size_t index, std::vector<core::TopUpAction> actions) {
  std::size_t done = 0;
  for (; done < actions.size(); ++done) {
    const auto& action = actions[done];
    if (action.kind == core::TopUpAction::Kind::journal) {
      journal(index, action);
    } else if (action.kind == core::TopUpAction::Kind::start_verification) {
      start_verification(at(index));
    } else {
      break;
    }
  }
  actions.erase(actions.begin(), actions.begin() + static_cast<std::ptrdiff_t>(done));
  return actions;
}

asio::awaitable<void> TopUpExecutor::perform(std::size_t index, std::vector<core::TopUpAction> actions) {
  while (!actions.empty()) {
    actions = journal_until_io(index, std::move(actions));
    if (actions.empty()) break;
    const core::TopUpAction action = actions.front();
    actions.erase(actions.begin());
    if (action.kind == core::TopUpAction::Kind::send) {
      co_await send(index, action.why);
    } else if (action.kind == core::TopUpAction::Kind::look_up) {
      co_await look_up(index);
    } else if (action.kind == core::TopUpAction::Kind::request_ticket) {
      co_await request_ticket(index);
    }
  }
}

asio::awaitable<void> TopUpExecutor::send(std::size_t index, std::string why) {
  auto provider = providers_.find(at(index).provider);
  if (provider == providers_.end()) {
    spdlog::error("top-up provider is no longer configured topup={} provider={}",
                  field(at(index).key), field(at(index).provider));
    co_return;
  }
  const TopUpRecord& r = at(index);
  // One request per key at a time: an approval sends from its own coroutine while the
  // account's loop may be reconciling.
  if (!sending_.insert(r.key).second) co_return;
  adapters::crash_point("send.before_submitted");
  if (!owned(r.account) || !transition(at(index), TopUpState::submitted, why)) {
    sending_.erase(at(index).key);
    co_return;
  }
  // The record and its key on disk before the request leaves. A disk that refuses the
  // flush sends nothing: the machine has the top-up looked up, as after a lost answer.
  const bool durable = co_await durability_.flushed();
  if (!durable) {
    sending_.erase(at(index).key);
    metrics_.count_store_error("transition");
    auto actions = core::step(at(index), core::TopUpEvent{core::TopUpEvent::Kind::no_answer,
                                                                core::ProviderOutcome::pending, "",
                                                                "the journal could not be flushed to disk"});
    co_await perform(index, std::move(actions));
    co_return;
  }
  adapters::crash_point("send.before_request");
  // The journal may have grown and a reload replaced the providers while flushing.
  const TopUpRecord& sent = at(index);
  if (!owned(sent.account)) {
    // The lease ran out while flushing: its next owner looks the top-up up.
    sending_.erase(sent.key);
    spdlog::warn("not sending: this instance no longer owns the account topup={} account={}", field(sent.key),
                 field(sent.account));
    co_return;
  }
  const adapters::TopUpRequest request = request_of(sent);
  provider = providers_.find(sent.provider);
  if (provider == providers_.end()) {
    sending_.erase(sent.key);
    spdlog::error("top-up provider is no longer configured topup={} provider={}", field(sent.key),
                  field(sent.provider));
    co_return;
  }
  ++requests_in_flight_;
  auto call = provider->second->submit(request);
  auto result = co_await with_timeout(std::move(call), kTopUpTimeout, FailureKind::outcome_unknown);
  adapters::crash_point("send.after_response");
  --requests_in_flight_;
  if (requests_in_flight_ == 0 && neighbours_.money_request_finished) neighbours_.money_request_finished();
  sending_.erase(request.idempotency_key);
  using Kind = core::TopUpEvent::Kind;
  core::TopUpEvent event{Kind::answered};
  if (result) {
    event = {Kind::answered, outcome_of(result->status), result->reference, result->failure};
  } else if (result.error().kind == FailureKind::not_retryable) {
    failure_codes_[request.idempotency_key] = core::failure_code(result.error().reason);
    if (result.error().reason == "beneficiary_name_mismatch") {
      alert_deposit(at(index), "DepositBeneficiaryMismatch", result.error().message);
    }
    event = {Kind::refused, core::ProviderOutcome::pending, "", result.error().message};
  } else {
    // Retryable or unknown: the provider may hold it. The machine has it looked up
    // next time; it never sends a new request.
    event = {Kind::no_answer, core::ProviderOutcome::pending, "", result.error().message};
  }
  // The journal may have grown meanwhile; the index still names this record.
  auto actions = core::step(at(index), event);
  co_await perform(index, std::move(actions));
  adapters::crash_point("send.after_journal");
}

adapters::TopUpRequest TopUpExecutor::request_of(const TopUpRecord& r) const {
  return {r.key, r.method, r.destination_id, r.source, r.amount, r.ticket};
}

}  // namespace topupd::app