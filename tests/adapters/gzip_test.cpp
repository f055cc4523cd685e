#include "topupd/adapters/net/gzip.hpp"

#include <gtest/gtest.h>

namespace topupd::adapters::net {
namespace {

TEST(Gzip, RoundTripsAndShrinksRepetitiveText) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "topupd_balance{account=\"a" + std::to_string(i) + "\",currency=\"IDR\"} 100\n";
  const std::string zipped = gzip(text);
  ASSERT_GE(zipped.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(zipped[0]), 0x1f);  // the gzip magic
  EXPECT_EQ(static_cast<unsigned char>(zipped[1]), 0x8b);
  EXPECT_LT(zipped.size() * 5, text.size());
  EXPECT_EQ(gunzip(zipped), text);
  EXPECT_EQ(gunzip(gzip("")), "");
  EXPECT_FALSE(gunzip("not gzip at all"));
  EXPECT_FALSE(gunzip(zipped.substr(0, zipped.size() / 2)));  // cut short
}

TEST(Gzip, AcceptEncodingIsReadAsRfc9110Says) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("gzip, deflate"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(accepts_gzip("br,  gzip ;q=1"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("deflate, br"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
  EXPECT_FALSE(accepts_gzip("gzipped"));
}

}  // namespace
}  // namespace topupd::adapters::net
