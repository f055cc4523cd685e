#include "topupd/adapters/providers/sandbox_provider.hpp"

#include <fmt/format.h>

#include "topupd/adapters/json.hpp"

namespace topupd::adapters {

using core::Money;

namespace {
// 128-bit intermediate so rate × elapsed × noise cannot overflow before dividing.
__extension__ typedef __int128 Wide;
}  // namespace

SandboxProvider::SandboxProvider(const config::ProviderConfig& config, const core::Clock& clock)
    : name_(config.name),
      settle_after_(config.settle_after),
      lose_answers_percent_(config.lose_answers_percent),
      fail_before_apply_percent_(config.fail_before_apply_percent),
      decline_percent_(config.decline_percent),
      phantom_percent_(config.phantom_percent),
      decline_from_(config.decline_from.begin(), config.decline_from.end()),
      clock_(clock),
      random_(config.seed),
      pay_tickets_after_(config.pay_tickets_after) {
  const core::Timestamp now = clock_.now();
  for (const auto& account : config.accounts) {
    accounts_.emplace(account.id, Account{account, account.opening_balance, now,
                                          Money(0, account.opening_balance.currency())});
  }
}

void SandboxProvider::drift(Account& account, core::Duration elapsed) {
  if (elapsed.count() <= 0) return;
  const int noise = account.config.noise_percent;
  // One movement for the whole period, scaled by a noise draw in [-noise, +noise] %.
  auto movement = [&](const Money& per_minute) -> std::int64_t {
    if (per_minute.is_zero()) return 0;
    const std::int64_t draw =
        noise == 0 ? 0 : static_cast<std::int64_t>(random_() % static_cast<std::uint64_t>(2 * noise + 1)) - noise;
    const Wide scaled = static_cast<Wide>(per_minute.minor()) * elapsed.count() * (100 + draw) /
                            (static_cast<Wide>(60'000) * 100);
    return scaled > INT64_MAX ? INT64_MAX : static_cast<std::int64_t>(scaled);
  };
  const Money inflow(movement(account.config.inflow_per_minute), account.balance.currency());
  const Money wanted(movement(account.config.drain_per_minute), account.balance.currency());
  if (auto credited = account.balance.checked_add(inflow)) account.balance = *credited;
  // Payouts cannot overdraw the balance: once it is empty they fail.
  const Money paid = core::max(Money(0, wanted.currency()), core::min(wanted, account.balance));
  account.balance = *account.balance.checked_sub(paid);
  if (auto total = account.paid_out.checked_add(paid)) account.paid_out = *total;
}

void SandboxProvider::drift_to(Account& account, core::Timestamp now) {
  drift(account, now - account.updated_at);
  if (now > account.updated_at) account.updated_at = now;
}

void SandboxProvider::advance(core::Timestamp now) {
  for (auto& [id, account] : accounts_) drift_to(account, now);
  settle(now);
}

void SandboxProvider::settle(core::Timestamp now) {
  // Only unsettled movements are visited, so a long ledger costs nothing per read.
  std::erase_if(unsettled_, [&](std::size_t index) {
    auto& entry = ledger_[index];
    if (entry.settles_at > now) return false;
    // A declined movement credits nothing; a declined sweep or deposit gives the source
    // its money back. A deposit credits nothing here: its destination is at another gateway.
    auto it = accounts_.find(entry.declined ? entry.source : entry.account);
    const bool took_from_source = entry.kind == core::TopUpMethod::sweep || entry.kind == core::TopUpMethod::deposit;
    if (it != accounts_.end() && !entry.phantom && (!entry.declined || took_from_source)) {
      drift_to(it->second, now);
      if (auto credited = it->second.balance.checked_add(entry.amount)) it->second.balance = *credited;
    }
    entry.settled = true;
    newly_settled_.push_back(index);
    return true;
  });
}

std::vector<std::size_t> SandboxProvider::take_settled() {
  settle(clock_.now());
  std::vector<std::size_t> out;
  out.swap(newly_settled_);
  return out;
}

std::optional<core::Money> SandboxProvider::pending_total(const std::string& account_id) {
  settle(clock_.now());
  std::optional<Money> total;
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) return std::nullopt;
  total = Money(0, it->second.balance.currency());
  for (std::size_t index : unsettled_) {
    if (ledger_[index].account == account_id) {
      if (auto sum = total->checked_add(ledger_[index].amount)) total = *sum;
    }
  }
  return total;
}

bool SandboxProvider::set_account(const std::string& account_id, const AccountChange& change) {
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) return false;
  const auto currency = it->second.balance.currency();
  for (const auto* amount : {&change.balance, &change.drain_per_minute, &change.inflow_per_minute}) {
    if (*amount && !((*amount)->currency() == currency)) return false;
  }
  drift_to(it->second, clock_.now());
  if (change.balance) it->second.balance = *change.balance;
  if (change.drain_per_minute) it->second.config.drain_per_minute = *change.drain_per_minute;
  if (change.inflow_per_minute) it->second.config.inflow_per_minute = *change.inflow_per_minute;
  if (change.fail_percent) it->second.config.fail_percent = *change.fail_percent;
  return true;
}

bool SandboxProvider::has_account(const std::string& account_id) const { return accounts_.count(account_id) != 0; }

std::vector<std::string> SandboxProvider::account_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, account] : accounts_) out.push_back(id);
  return out;
}

ProviderResult<Money> SandboxProvider::balance_now(const std::string& account_id) {
  const core::Timestamp now = clock_.now();
  pay_due_tickets(now);
  settle(now);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) {
    return ProviderError{FailureKind::not_retryable, "unknown_account",
                         fmt::format("sandbox {} has no account {}", name_, account_id)};
  }
  drift_to(it->second, now);
  it->second.reads += 1;
  const int fail = it->second.config.fail_percent;
  if (fail > 0 && static_cast<int>(random_() % 100) < fail) {
    return ProviderError{FailureKind::retryable, "unavailable",
                         fmt::format("sandbox {} simulated an outage", name_)};
  }
  return it->second.balance;
}

TopUpReceipt SandboxProvider::receipt_of(const SandboxLedgerEntry& entry) const {
  if (entry.settled && entry.declined) return {entry.id, ProviderTopUpStatus::failed, "declined by the bank (sandbox)"};
  return {entry.id, entry.settled ? ProviderTopUpStatus::succeeded : ProviderTopUpStatus::pending, ""};
}

ProviderResult<TopUpReceipt> SandboxProvider::submit_now(const TopUpRequest& request) {
  auto draw = [this](int percent) { return percent > 0 && static_cast<int>(random_() % 100) < percent; };
  if (draw(fail_before_apply_percent_)) {
    return ProviderError{FailureKind::outcome_unknown, "http_5xx",
                         fmt::format("sandbox {} answered 500 before applying anything", name_)};
  }
  auto receipt = request.method == core::TopUpMethod::deposit && request.pay_to ? pay_ticket(request) : apply(request);
  if (receipt && draw(lose_answers_percent_)) {
    return ProviderError{FailureKind::outcome_unknown, "connection_reset",
                         fmt::format("sandbox {} applied the request, then the connection was reset", name_)};
  }
  return receipt;
}

ProviderResult<TopUpReceipt> SandboxProvider::apply(const TopUpRequest& request) {
  const core::Timestamp now = clock_.now();
  settle(now);
  if (auto known = by_key_.find(request.idempotency_key); known != by_key_.end()) {
    const SandboxLedgerEntry& first = ledger_[known->second];
    if (first.kind != request.method || first.account != request.destination_id ||
        first.source != request.source || !(first.amount.currency() == request.amount.currency()) ||
        first.amount.minor() != request.amount.minor()) {
      return ProviderError{FailureKind::not_retryable, "idempotency_mismatch",
                           "idempotency key reused with different parameters"};
    }
    return receipt_of(first);  // a replay: the first outcome, no new movement
  }
  // A deposit leaves for an account at another gateway (`destination_id` names it):
  // only its source is here.
  const bool outbound = request.method == core::TopUpMethod::deposit;
  auto destination = accounts_.find(outbound ? request.source : request.destination_id);
  if (destination == accounts_.end()) {
    return ProviderError{FailureKind::not_retryable, "unknown_account",
                         fmt::format("sandbox {} has no account {}", name_, outbound ? request.source : request.destination_id)};
  }
  if (!request.amount.is_positive() || !(request.amount.currency() == destination->second.balance.currency())) {
    return ProviderError{FailureKind::not_retryable, "invalid_amount",
                         "amount must be positive and in the account's currency"};
  }
  if (request.method == core::TopUpMethod::sweep || outbound) {
    auto source = accounts_.find(request.source);
    if (source == accounts_.end() || (!outbound && source->first == destination->first)) {
      return ProviderError{FailureKind::not_retryable, "unknown_account",
                           fmt::format("sandbox {} cannot sweep from {}", name_, request.source)};
    }
    if (source->second.balance < request.amount) {
      return ProviderError{FailureKind::not_retryable, "insufficient_funds",
                           fmt::format("source {} holds less than the sweep", request.source)};
    }
    drift_to(source->second, now);
    if (source->second.balance < request.amount) {
      return ProviderError{FailureKind::not_retryable, "insufficient_funds",
                           fmt::format("source {} holds less than the sweep", request.source)};
    }
    source->second.balance = *source->second.balance.checked_sub(request.amount);
  }
  SandboxLedgerEntry entry{fmt::format("sbx_{}", ledger_.size() + 1), request.method,
                           request.destination_id, request.source, request.amount,
                           request.idempotency_key, now, now + settle_after_, false,
                           decline_from_.count(request.source) > 0 ||
                               (decline_percent_ > 0 && static_cast<int>(random_() % 100) < decline_percent_),
                           phantom_percent_ > 0 && static_cast<int>(random_() % 100) < phantom_percent_};
  by_key_.emplace(entry.idempotency_key, ledger_.size());
  unsettled_.push_back(ledger_.size());
  ledger_.push_back(entry);
  settle(now);  // a zero settle delay settles at once
  return receipt_of(ledger_.back());
}

std::string sandbox_qris_payload(const std::string& merchant, const core::Money& amount, const std::string& reference) {
  const auto field = [](const std::string& id, const std::string& value) {
    return fmt::format("{}{:02}{}", id, value.size(), value);
  };
  const std::string name = merchant.substr(0, 25);
  const std::string label = reference.substr(0, 25);
  std::string out = field("00", "01") + field("01", "12") +
                    field("26", field("00", "ID.CO.QRIS.WWW") + field("01", "936008880000000001")) +
                    field("52", "4829") + field("53", "360") +
                    field("54", std::to_string(amount.minor() / amount.currency().minor_per_major())) +
                    field("58", "ID") + field("59", name.empty() ? "SANDBOX" : name) + field("60", "JAKARTA") +
                    field("62", field("05", label)) + "6304";
  std::uint16_t crc = 0xFFFF;  // CRC-16/CCITT-FALSE over everything before the CRC's value
  for (unsigned char c : out) {
    crc ^= static_cast<std::uint16_t>(c << 8);
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
  }
  return out + fmt::format("{:04X}", crc);
}

ProviderResult<core::DepositTicket> SandboxProvider::issue_ticket_now(const TicketRequest& request) {
  if (!accounts_.count(request.account_id)) {
    return ProviderError{FailureKind::not_retryable, "unknown_account",
                         fmt::format("sandbox {} has no account {}", name_, request.account_id)};
  }
  const std::string number = fmt::format("8808{:010}", tickets_.size() + 1);
  core::DepositTicket issued{fmt::format("sbxva_{}", tickets_.size() + 1), request.bank, number, request.name,
                             request.expires_at};
  if (request.kind == core::DepositDestination::Kind::qris) {
    // A code, not an account: kept under its own number so a person can pay it.
    issued = {fmt::format("sbxqr_{}", tickets_.size() + 1), "QRIS", "", "", request.expires_at,
              sandbox_qris_payload("TOPUPD SANDBOX", request.amount, request.idempotency_key)};
  }
  tickets_.emplace(issued.account_no.empty() ? issued.reference : number, Ticket{request, issued, clock_.now()});
  return issued;
}

ProviderResult<TopUpReceipt> SandboxProvider::pay_ticket(const TopUpRequest& request) {
  const auto it = tickets_.find(request.pay_to->account_no);
  if (it == tickets_.end()) {
    return ProviderError{FailureKind::not_retryable, "unknown_account",
                         fmt::format("sandbox {} has no virtual account {}", name_, request.pay_to->account_no)};
  }
  Ticket& ticket = it->second;
  if (ticket.issued.name != request.pay_to->name) {
    return ProviderError{FailureKind::not_retryable, "beneficiary_name_mismatch",
                         fmt::format("the account is named '{}', not '{}': nothing was paid", ticket.issued.name,
                                     request.pay_to->name)};
  }
  const bool repeat = by_key_.count(request.idempotency_key) > 0;
  if (!repeat && (ticket.taken || clock_.now() >= ticket.asked.expires_at)) {
    return ProviderError{FailureKind::not_retryable, "inactive_account", "the virtual account is paid or expired"};
  }
  TopUpRequest sweep = request;  // inside the sandbox a transfer between its accounts
  sweep.method = core::TopUpMethod::sweep;
  sweep.destination_id = ticket.asked.account_id;
  sweep.pay_to.reset();
  auto receipt = apply(sweep);
  if (receipt) ticket.taken = true;
  return receipt;
}

void SandboxProvider::pay_due_tickets(core::Timestamp now) {
  if (pay_tickets_after_.count() <= 0) return;
  for (auto& [number, ticket] : tickets_) {
    if (ticket.taken || now < ticket.at + pay_tickets_after_ || now >= ticket.asked.expires_at) continue;
    ticket.taken = true;
    // Under the top-up's key, from outside: what a look-up of the deposit finds.
    (void)apply({ticket.asked.idempotency_key, core::TopUpMethod::direct_debit, ticket.asked.account_id, "person",
                 ticket.asked.amount});
  }
}

boost::asio::awaitable<ProviderResult<core::DepositTicket>> SandboxProvider::issue_ticket(const TicketRequest& request) {
  co_return issue_ticket_now(request);
}

std::optional<TopUpReceipt> SandboxProvider::look_up_now(const std::string& idempotency_key) {
  pay_due_tickets(clock_.now());
  settle(clock_.now());
  auto known = by_key_.find(idempotency_key);
  if (known == by_key_.end()) return std::nullopt;
  return receipt_of(ledger_[known->second]);
}

boost::asio::awaitable<ProviderResult<Money>> SandboxProvider::balance(const BalanceQuery& query) {
  co_return balance_now(query.account_id);
}

boost::asio::awaitable<ProviderResult<TopUpReceipt>> SandboxProvider::submit(const TopUpRequest& request) {
  co_return submit_now(request);
}

boost::asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> SandboxProvider::look_up(
    const TopUpRequest& request, const std::string& /*reference*/) {
  co_return look_up_now(request.idempotency_key);
}

std::string SandboxProvider::ledger_json() {
  advance(clock_.now());
  std::string out = fmt::format("{{\"provider\":{},\"entries\":[", json_string(name_));
  for (std::size_t i = 0; i < ledger_.size(); ++i) {
    const auto& e = ledger_[i];
    out += fmt::format(
        "{}{{\"id\":{},\"kind\":{},\"account\":{},\"source\":{},\"amount_minor\":{},"
        "\"currency\":{},\"idempotency_key\":{},\"created_at\":{},\"settled\":{},\"declined\":{}}}",
        i == 0 ? "" : ",", json_string(e.id), json_string(core::to_string(e.kind)),
        json_string(e.account), json_string(e.source), e.amount.minor(),
        json_string(e.amount.currency().code()), json_string(e.idempotency_key),
        json_string(core::format_rfc3339(e.created_at)), e.settled ? "true" : "false", e.declined ? "true" : "false");
  }
  out += "],\"accounts\":[";
  bool first = true;
  for (const auto& [id, account] : accounts_) {
    out += fmt::format("{}{{\"id\":{},\"balance_minor\":{},\"currency\":{},\"paid_out_minor\":{},"
                       "\"balance_reads\":{}}}",
                       first ? "" : ",", json_string(id), account.balance.minor(),
                       json_string(account.balance.currency().code()), account.paid_out.minor(), account.reads);
    first = false;
  }
  out += "]}";
  return out;
}

}  // namespace topupd::adapters
