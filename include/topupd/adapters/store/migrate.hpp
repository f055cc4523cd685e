// `topupd migrate`: a SQLite store copied into an empty PostgreSQL one, table by table,
// in one PostgreSQL transaction — the journal with every transition, rule states,
// settings (the pause switch, rule suspensions), silences, the outbox and the webhook
// event ids already seen — so a daemon started on the copy carries on where the SQLite
// one stopped. Both are first brought to this topupd's schema; a target that holds
// anything is refused, as is a source that is not a topupd store.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace topupd::adapters {

// Rows copied per table, in the order copied.
using MigrationReport = std::vector<std::pair<std::string, std::int64_t>>;

// Throws StoreError naming what went wrong; nothing is written to the target then.
MigrationReport copy_sqlite_to_postgres(const std::string& sqlite_path, const std::string& dsn);

}  // namespace topupd::adapters
