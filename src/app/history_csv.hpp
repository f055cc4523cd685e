// The CSV files `topupd simulate` reads, from any stream: the balance history
// (timestamp,account,balance, in time order) and the demands
// (account,reference,amount,due_at). Every problem is reported as FILE:LINE: message
// and nothing of a bad file is used. Pure: core and config only (fuzzed by
// tests/fuzz/fuzz_history.cpp). Private to src/app.
#pragma once

#include <functional>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "topupd/config/config.hpp"
#include "topupd/core/simulation.hpp"

namespace topupd::app {

struct History {
  std::vector<core::HistoryRow> rows;
  std::string error;  // "FILE:LINE: message"
};

struct Demands {
  std::map<std::string, std::vector<core::DueDemand>> by_account;
  std::string error;  // FILE:LINE: message
};

struct HistoryRead {
  std::size_t rows = 0;  // given to the caller
  std::string error;     // "FILE:LINE: message"; no row follows it
};

// `path` only names the source in messages. Gives each row to `take` as it is read;
// the rows before a problem were given already, and the caller drops what it made of them.
HistoryRead read_history(std::istream& in, const std::string& path, const config::Config& config,
                         const std::function<void(const core::HistoryRow&)>& take);
// The same, every row kept.
History read_history(std::istream& in, const std::string& path, const config::Config& config);
Demands read_demands(std::istream& in, const std::string& path, const config::Config& config);

}  // namespace topupd::app
