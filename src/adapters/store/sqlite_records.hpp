// The SQLite store's journal rows (sqlite_store.cpp): the columns a top-up is read
// from, a row read back as a record, and a record's deposit ticket as columns.
//
// Private to src/adapters/store.
#pragma once

#include <optional>
#include <string>

#include "sqlite_statement.hpp"
#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters::sqlite {

inline constexpr const char* kRecordColumns =
    "key, rule, account, provider, method, destination_id, source, amount_minor, currency, state, reference, "
    "last_error, created_at, settled_at, rail, need, ticket_provider, ticket_reference, ticket_bank, "
    "ticket_account_no, ticket_name, ticket_expires_at, ticket_qr";

inline core::TopUpRecord record_of(const Statement& row) {
  const auto currency = core::Currency::find(row.text(8));
  const auto state = core::top_up_state_from(row.text(9));
  const auto method = core::top_up_method_from(row.text(4));
  if (!currency || !state || !method) throw StoreError("the journal holds a row this topupd cannot read");
  core::TopUpRecord record{row.text(0),
                     row.text(1),
                     row.text(2),
                     row.text(3),
                     *method,
                     row.text(5),
                     row.text(6),
                     core::Money(row.integer(7), *currency),
                     *state,
                     row.text(10),
                     row.text(11),
                     timestamp(row.integer(12)),
                     row.optional_time(13),
                     static_cast<std::uint32_t>(row.integer(14)),
                     row.text(15)};
  record.ticket_provider = row.text(16);
  if (!row.text(17).empty() || !row.text(19).empty()) {  // a ticket, or a static account
    record.ticket = core::DepositTicket{row.text(17), row.text(18), row.text(19), row.text(20), row.optional_time(21),
                                        row.text(22)};
  }
  return record;
}

// The ticket columns of `r`: empty text and no expiry while it has none.
struct TicketColumns {
  std::string reference, bank, account_no, name, qr;
  std::optional<core::Timestamp> expires_at;
  explicit TicketColumns(const core::TopUpRecord& r) {
    if (!r.ticket) return;
    reference = r.ticket->reference;
    bank = r.ticket->bank;
    account_no = r.ticket->account_no;
    name = r.ticket->name;
    expires_at = r.ticket->expires_at;
    qr = r.ticket->qr;
  }
};

}  // namespace topupd::adapters::sqlite
