// The CSV files `topupd simulate` reads (history_csv.hpp).
#include "history_csv.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace topupd::app {
namespace {

// Calls `line` with each line of `in` (without its '\n') until it returns false, reading
// blocks rather than a line at a time: a history of millions of rows goes at the speed
// of the disk. False when reading failed.
template <class Line>
bool for_each_line(std::istream& in, Line&& line) {
  std::vector<char> block(1 << 20);
  std::string carried;  // a line cut by the end of a block
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const std::string_view chunk(block.data(), static_cast<std::size_t>(in.gcount()));
    std::size_t position = 0;
    while (position < chunk.size()) {
      const std::size_t newline = chunk.find('\n', position);
      if (newline == std::string_view::npos) {
        carried.append(chunk.substr(position));
        break;
      }
      const std::string_view piece = chunk.substr(position, newline - position);
      position = newline + 1;
      if (carried.empty()) {
        if (!line(piece)) return true;
      } else {
        carried.append(piece);
        if (!line(std::string_view(carried))) return true;
        carried.clear();
      }
    }
  }
  if (in.bad()) return false;
  if (!carried.empty()) line(std::string_view(carried));
  return true;
}

}  // namespace

HistoryRead read_history(std::istream& in, const std::string& path, const config::Config& config,
                         const std::function<void(const core::HistoryRow&)>& take) {
  HistoryRead out;
  std::map<std::string, core::Currency, std::less<>> currencies;
  for (const auto& account : config.accounts) currencies.emplace(account.name, account.currency);
  std::size_t number = 0;
  auto fail = [&](const std::string& message) {
    out.error = fmt::format("{}:{}: {}", path, number, message);
    return false;
  };
  // One row, its fields replaced line by line: no allocation for a short account name.
  std::optional<core::HistoryRow> row;
  const bool read = for_each_line(in, [&](std::string_view text) {
    ++number;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (number == 1) {
      return text == "timestamp,account,balance" || fail("the header must be: timestamp,account,balance");
    }
    if (text.empty()) return true;
    const auto first = text.find(',');
    const auto second = first == std::string_view::npos ? std::string_view::npos : text.find(',', first + 1);
    if (second == std::string_view::npos || text.find(',', second + 1) != std::string_view::npos) {
      return fail("expected three fields: timestamp,account,balance");
    }
    const auto at = core::parse_rfc3339(text.substr(0, first));
    if (!at) return fail(fmt::format("'{}' is not an RFC 3339 time with an offset", text.substr(0, first)));
    const std::string_view account = text.substr(first + 1, second - first - 1);
    auto currency = currencies.find(account);
    if (currency == currencies.end()) return fail(fmt::format("unknown account '{}'", account));
    auto balance = core::parse_decimal_amount(text.substr(second + 1), currency->second);
    if (!balance.value) return fail(fmt::format("bad balance: {}", balance.error));
    if (row && *at < row->at) {
      return fail(fmt::format("time goes backwards ({} is before the previous row)", text.substr(0, first)));
    }
    if (!row) {
      row.emplace(core::HistoryRow{*at, std::string(account), *balance.value});
    } else {
      row->at = *at;
      row->account.assign(account);
      row->balance = *balance.value;
    }
    ++out.rows;
    take(*row);
    return true;
  });
  if (!read) {
    out.error = fmt::format("{}: cannot read the history file", path);
  } else if (number == 0) {
    fail("the file is empty; the header must be: timestamp,account,balance");
  }
  return out;
}

History read_history(std::istream& in, const std::string& path, const config::Config& config) {
  History out;
  // Room for every row at once when the size is known (a row takes 25 bytes or more);
  // pages never written cost nothing.
  in.seekg(0, std::ios::end);
  if (const auto size = in.tellg(); size >= 0) {
    out.rows.reserve(static_cast<std::size_t>(size) / 25);
    in.seekg(0, std::ios::beg);
  }
  in.clear();  // a pipe cannot seek, and is read from where it is
  out.error = read_history(in, path, config, [&](const core::HistoryRow& row) { out.rows.push_back(row); }).error;
  if (!out.error.empty()) out.rows.clear();
  return out;
}

// account,reference,amount,due_at — the API's demand fields, one per line.
Demands read_demands(std::istream& in, const std::string& path, const config::Config& config) {
  Demands out;
  std::string line;
  std::size_t number = 0;
  auto fail = [&](const std::string& message) { out.error = fmt::format("{}:{}: {}", path, number, message); };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      if (line != "account,reference,amount,due_at") {
        fail("the header must be: account,reference,amount,due_at");
        return out;
      }
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1) {
      cells.push_back(line.substr(start, comma - start));
    }
    cells.push_back(line.substr(start));
    if (cells.size() != 4) {
      fail("expected 4 fields: account,reference,amount,due_at");
      return out;
    }
    const config::AccountConfig* account = config.find_account(cells[0]);
    if (!account) {
      fail(fmt::format("no account named '{}' in the config", cells[0]));
      return out;
    }
    const core::MoneyParse amount = core::parse_decimal_amount(cells[2], account->currency);
    if (!amount.value || !amount.value->is_positive()) {
      fail(amount.value ? "the amount must be more than 0" : "amount: " + amount.error);
      return out;
    }
    const auto due = core::parse_rfc3339(cells[3]);
    if (!due) {
      fail("due_at needs an RFC 3339 time with an offset, e.g. 2026-12-25T09:00:00+07:00");
      return out;
    }
    out.by_account[cells[0]].push_back({cells[1], *amount.value, *due});
  }
  if (number == 0) fail("the file is empty; the header must be: account,reference,amount,due_at");
  return out;
}


}  // namespace topupd::app
