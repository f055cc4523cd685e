// The SQLite store's kept statements (src/adapters/store/sqlite_statement.hpp): each
// text prepared once per connection, handed back reset, and a text in use twice at once
// given a statement of its own.
#include "sqlite_statement.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace topupd::adapters::sqlite {
namespace {

class StatementCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db_, "CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3)", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    cache_.emplace(db_);
  }
  void TearDown() override {
    cache_.reset();
    EXPECT_EQ(sqlite3_close(db_), SQLITE_OK);  // nothing left unfinalized
  }
  // The statements the connection holds right now, kept or not.
  int statements_on_the_connection() const {
    int count = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(db_, nullptr); s; s = sqlite3_next_stmt(db_, s)) ++count;
    return count;
  }
  sqlite3* db_ = nullptr;
  std::optional<StatementCache> cache_;
};

TEST_F(StatementCacheTest, EachTextIsPreparedOnceAndKeptAfterUse) {
  for (std::int64_t v = 1; v <= 3; ++v) {
    Statement query(*cache_, "SELECT COUNT(*) FROM t WHERE v <= ?1");
    query.bind(1, v);
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query.integer(0), v);
  }
  {
    Statement other(*cache_, "SELECT MAX(v) FROM t");
    ASSERT_TRUE(other.step());
    EXPECT_EQ(other.integer(0), 3);
  }
  EXPECT_EQ(cache_->size(), 2u);
  EXPECT_EQ(statements_on_the_connection(), 2);
  cache_->finalize_all();
  EXPECT_EQ(statements_on_the_connection(), 0);
}

TEST_F(StatementCacheTest, AStatementComesBackWithItsBindingsCleared) {
  {
    Statement query(*cache_, "SELECT ?1 IS NULL");
    query.bind(1, std::int64_t{7});
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query.integer(0), 0);
  }
  Statement again(*cache_, "SELECT ?1 IS NULL");
  ASSERT_TRUE(again.step());
  EXPECT_EQ(again.integer(0), 1);  // the 7 bound last time is gone
}

TEST_F(StatementCacheTest, AQueryLeftAtItsFirstRowStartsOverWhenUsedAgain) {
  const char* sql = "SELECT v FROM t ORDER BY v";
  {
    Statement query(*cache_, sql);
    ASSERT_TRUE(query.step());
    EXPECT_EQ(query.integer(0), 1);
  }
  Statement again(*cache_, sql);
  ASSERT_TRUE(again.step());
  EXPECT_EQ(again.integer(0), 1);
}

TEST_F(StatementCacheTest, TheSameTextInUseTwiceAtOnceGetsAStatementOfItsOwn) {
  const char* sql = "SELECT v FROM t ORDER BY v";
  Statement outer(*cache_, sql);
  ASSERT_TRUE(outer.step());
  EXPECT_EQ(outer.integer(0), 1);
  {
    Statement inner(*cache_, sql);
    ASSERT_TRUE(inner.step());
    EXPECT_EQ(inner.integer(0), 1);
    ASSERT_TRUE(inner.step());
    EXPECT_EQ(inner.integer(0), 2);
    EXPECT_EQ(statements_on_the_connection(), 2);
  }
  EXPECT_EQ(statements_on_the_connection(), 1);  // the inner one was finalized, the kept one stays
  ASSERT_TRUE(outer.step());
  EXPECT_EQ(outer.integer(0), 2);  // the outer read went on where it was
  EXPECT_EQ(cache_->size(), 1u);
}

TEST_F(StatementCacheTest, TextThatDoesNotPrepareIsAStoreErrorAndKeepsNothing) {
  EXPECT_THROW(Statement(*cache_, "SELECT FROM nowhere"), StoreError);
  EXPECT_EQ(cache_->size(), 0u);
  EXPECT_EQ(statements_on_the_connection(), 0);
}

}  // namespace
}  // namespace topupd::adapters::sqlite
