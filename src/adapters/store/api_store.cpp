// The API's tables — tokens, demands, the audit log — written once for both engines
// over SqlRunner (sql_runner.hpp). Times are milliseconds since the epoch, as in every
// other table.
#include <fmt/format.h>

#include "sql_runner.hpp"
#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {
namespace {

using namespace sql_cells;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}
std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

constexpr const char* kTokenColumns = "name, hash, scopes, created_at, last_used_at, revoked_at";
constexpr const char* kDemandColumns = "reference, account, amount_minor, currency, due_at, created_at, created_by";

ApiToken token_of(const std::vector<std::optional<std::string>>& row) {
  return ApiToken{text(row[0]), text(row[1]), split(text(row[2])), at_ms(integer(row[3])), optional_time(row[4]),
                  optional_time(row[5])};
}

Demand demand_of(const std::vector<std::optional<std::string>>& row) {
  const auto currency = core::Currency::find(text(row[3]));
  if (!currency) throw StoreError("the store holds a demand in a currency this topupd does not know");
  return Demand{text(row[0]), text(row[1]), core::Money(integer(row[2]), *currency), at_ms(integer(row[4])),
                at_ms(integer(row[5])), text(row[6])};
}

class SqlApiStore final : public ApiStore {
 public:
  explicit SqlApiStore(std::unique_ptr<SqlRunner> runner) : db_(std::move(runner)) {}

  bool add_token(const ApiToken& t) override {
    return db_->run(fmt::format("INSERT INTO api_tokens ({}) VALUES ($1, $2, $3, $4, $5, $6) "
                                "ON CONFLICT DO NOTHING",
                                kTokenColumns),
                    {t.name, t.hash, joined(t.scopes), ms(t.created_at), time_or_null(t.last_used_at),
                     time_or_null(t.revoked_at)})
               .affected == 1;
  }

  std::vector<ApiToken> tokens() override {
    std::vector<ApiToken> out;
    for (const auto& row : db_->run(fmt::format("SELECT {} FROM api_tokens ORDER BY name", kTokenColumns), {}).rows) {
      out.push_back(token_of(row));
    }
    return out;
  }

  bool revoke_token(const std::string& name, core::Timestamp at) override {
    return db_->run("UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL", {name, ms(at)})
               .affected == 1;
  }

  std::optional<ApiToken> use_token(const std::string& hash, core::Timestamp now) override {
    const SqlRows rows = db_->run(fmt::format("UPDATE api_tokens SET last_used_at = $2 WHERE hash = $1 AND "
                                              "revoked_at IS NULL RETURNING {}",
                                              kTokenColumns),
                                  {hash, ms(now)});
    if (rows.rows.empty()) return std::nullopt;
    return token_of(rows.rows.front());
  }

  DemandPut put_demand(const Demand& d) override {
    const SqlRows inserted =
        db_->run(fmt::format("INSERT INTO demands ({}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                             kDemandColumns),
                 {d.reference, d.account, d.amount.minor(), std::string(d.amount.currency().code()), ms(d.due_at),
                  ms(d.created_at), d.created_by});
    if (inserted.affected == 1) return DemandPut::created;
    const auto there = demand(d.reference);
    if (there && there->account == d.account && there->amount == d.amount && there->due_at == d.due_at) {
      return DemandPut::same;
    }
    return DemandPut::conflict;
  }

  std::optional<Demand> demand(const std::string& reference) override {
    const SqlRows rows =
        db_->run(fmt::format("SELECT {} FROM demands WHERE reference = $1", kDemandColumns), {reference});
    if (rows.rows.empty()) return std::nullopt;
    return demand_of(rows.rows.front());
  }

  std::vector<Demand> demands(core::Timestamp from) override {
    std::vector<Demand> out;
    for (const auto& row :
         db_->run(fmt::format("SELECT {} FROM demands WHERE due_at >= $1 ORDER BY due_at, reference", kDemandColumns),
                  {ms(from)})
             .rows) {
      out.push_back(demand_of(row));
    }
    return out;
  }

  bool remove_demand(const std::string& reference) override {
    return db_->run("DELETE FROM demands WHERE reference = $1", {reference}).affected == 1;
  }

  std::int64_t forget_demands(core::Timestamp before) override {
    return db_->run("DELETE FROM demands WHERE due_at < $1", {ms(before)}).affected;
  }

  void audit(const AuditEntry& e) override {
    db_->run("INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)",
             {ms(e.at), e.actor, e.action, e.detail});
  }

  std::vector<AuditEntry> audit_log(core::Timestamp since, std::size_t limit) override {
    const SqlRows rows = db_->run("SELECT at, actor, action, detail FROM audit_log WHERE at >= $1 "
                                  "ORDER BY seq DESC LIMIT $2",
                                  {ms(since), static_cast<std::int64_t>(limit)});
    std::vector<AuditEntry> out;
    for (auto it = rows.rows.rbegin(); it != rows.rows.rend(); ++it) {
      out.push_back({at_ms(integer((*it)[0])), text((*it)[1]), text((*it)[2]), text((*it)[3])});
    }
    return out;
  }

  std::int64_t forget_audit(core::Timestamp before) override {
    return db_->run("DELETE FROM audit_log WHERE at < $1", {ms(before)}).affected;
  }

 private:
  std::unique_ptr<SqlRunner> db_;
};

}  // namespace

std::unique_ptr<ApiStore> sql_api_store(std::unique_ptr<SqlRunner> runner) {
  return std::make_unique<SqlApiStore>(std::move(runner));
}

}  // namespace topupd::adapters
