// The PostgreSQL store's query helpers (pg_store.cpp): parameters as text, a result's
// rows with typed columns, and times as milliseconds since the epoch.
//
// Private to src/adapters/store.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters::pg {

inline std::int64_t millis(core::Timestamp at) { return at.time_since_epoch().count(); }
inline core::Timestamp timestamp(std::int64_t ms) { return core::Timestamp(std::chrono::milliseconds(ms)); }

// A query's parameters, as text (NULL for nullopt).
class Params {
 public:
  Params& add(std::string value) {
    values_.emplace_back(std::move(value));
    return *this;
  }
  Params& add(std::int64_t value) { return add(std::to_string(value)); }
  Params& null() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  Params& add(const std::optional<core::Timestamp>& at) {
    values_.emplace_back(at ? std::optional(std::to_string(millis(*at))) : std::nullopt);
    return *this;
  }
  std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
  }
  int size() const { return static_cast<int>(values_.size()); }

 private:
  std::vector<std::optional<std::string>> values_;
};

// A query's result; rows are read as text.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result) {}
  ~Rows() { PQclear(result_); }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  Rows(Rows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }

  PGresult* get() const { return result_; }
  int count() const { return PQntuples(result_); }
  int columns() const { return PQnfields(result_); }
  bool is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
  std::int64_t affected() const {
    const char* n = PQcmdTuples(result_);
    return n && *n ? std::stoll(n) : 0;
  }
  std::string text(int row, int column) const { return PQgetvalue(result_, row, column); }
  std::int64_t integer(int row, int column) const { return std::stoll(PQgetvalue(result_, row, column)); }
  std::optional<core::Timestamp> optional_time(int row, int column) const {
    if (PQgetisnull(result_, row, column)) return std::nullopt;
    return timestamp(integer(row, column));
  }

 private:
  PGresult* result_;
};

}  // namespace topupd::adapters::pg
