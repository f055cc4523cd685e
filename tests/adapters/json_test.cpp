#include <gtest/gtest.h>

#include "topupd/adapters/json.hpp"

namespace topupd::adapters::json {
namespace {

TEST(Json, KeepsNumbersAsTheirExactText) {
  auto doc = parse(R"({"balance": 123000.12, "big": 99999999999999999999, "neg": -0.5, "e": 1e3})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->find("balance")->text(), "123000.12");
  EXPECT_EQ(doc->find("big")->text(), "99999999999999999999");
  EXPECT_EQ(doc->find("neg")->text(), "-0.5");
  EXPECT_EQ(doc->find("e")->text(), "1e3");
  EXPECT_TRUE(doc->find("balance")->is_number());
}

TEST(Json, DecodesStringsAndSerializesCompactly) {
  auto doc = parse("{ \"a\" : [1, \"x\\u00e9\\n\", true, null, {}],\n \"b\": \"\\ud83d\\ude00\" }");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->find("a")->items()[1].text(), "x\xc3\xa9\n");
  EXPECT_EQ(doc->find("b")->text(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(doc->serialize(), "{\"a\":[1,\"x\xc3\xa9\\n\",true,null,{}],\"b\":\"\xf0\x9f\x98\x80\"}");
}

TEST(Json, ResolvesJsonPointers) {
  auto doc = parse(R"({"data":{"list":[{"amount":"1.00"},{"amount":"2.50"}],"a/b":1,"m~n":2}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->at_pointer("/data/list/1/amount")->text(), "2.50");
  EXPECT_EQ(doc->at_pointer("/data/a~1b")->text(), "1");
  EXPECT_EQ(doc->at_pointer("/data/m~0n")->text(), "2");
  EXPECT_EQ(doc->at_pointer(""), &*doc);
  EXPECT_EQ(doc->at_pointer("/data/list/2"), nullptr);
  EXPECT_EQ(doc->at_pointer("/data/list/01"), nullptr);
  EXPECT_EQ(doc->at_pointer("data"), nullptr);
}

TEST(Json, RejectsMalformedAndTooDeepDocuments) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "01", "1.", "\"\\x\"", "{\"a\":1} x", "tru", "\"\\ud800\"",
                          "{\"a\" 1}", "[\"\x01\"]", "-", "1e"}) {
    EXPECT_FALSE(parse(bad)) << bad;
  }
  EXPECT_FALSE(parse(std::string(100, '[') + std::string(100, ']')));
  EXPECT_TRUE(parse(std::string(60, '[') + std::string(60, ']')));
}

}  // namespace
}  // namespace topupd::adapters::json
