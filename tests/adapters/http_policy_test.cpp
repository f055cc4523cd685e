#include <gtest/gtest.h>

#include "topupd/adapters/net/http.hpp"

namespace topupd::adapters::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

core::MonotonicTime at(long long ms) { return core::MonotonicTime(milliseconds(ms)); }

TEST(Url, ParsesSchemesHostsPortsAndTargets) {
  auto u = parse_url("https://api.stripe.com/v1/balance?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "api.stripe.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/v1/balance?x=1");
  EXPECT_TRUE(u->tls());
  auto v6 = parse_url("http://[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(v6->target, "/");
  EXPECT_EQ(v6->authority(), "[::1]:8080");
  auto proxy = parse_url("http://user:pa%40ss@proxy.local:3128");
  ASSERT_TRUE(proxy);
  EXPECT_EQ(proxy->userinfo, "user:pa%40ss");
  EXPECT_EQ(proxy->host, "proxy.local");
  EXPECT_FALSE(parse_url("ftp://x"));
  EXPECT_FALSE(parse_url("https://"));
  EXPECT_FALSE(parse_url("https://host:99999/"));
  EXPECT_FALSE(parse_url("https://bad host/"));
}

TEST(Url, EncodesAndDecodesForms) {
  EXPECT_EQ(url_encode("topupd refill/a=b&c"), "topupd%20refill%2Fa%3Db%26c");
  auto form = parse_form("amount=1000&metadata%5Bk%5D=a+b%21&empty=&flag");
  ASSERT_EQ(form.size(), 4u);
  EXPECT_EQ(form[1].first, "metadata[k]");
  EXPECT_EQ(form[1].second, "a b!");
  EXPECT_EQ(form[2].second, "");
  EXPECT_EQ(form[3].first, "flag");
}

TEST(NoProxy, MatchesHostsDomainsPortsAndWildcard) {
  EXPECT_TRUE(bypasses_proxy("api.internal", 443, "localhost,.internal"));
  EXPECT_TRUE(bypasses_proxy("internal", 443, ".internal"));
  EXPECT_TRUE(bypasses_proxy("x.example.com", 443, "example.com"));
  EXPECT_FALSE(bypasses_proxy("badexample.com", 443, "example.com"));
  EXPECT_TRUE(bypasses_proxy("127.0.0.1", 80, "127.0.0.1"));
  EXPECT_TRUE(bypasses_proxy("bank.co.id", 8443, "bank.co.id:8443"));
  EXPECT_FALSE(bypasses_proxy("bank.co.id", 443, "bank.co.id:8443"));
  EXPECT_TRUE(bypasses_proxy("anything", 1, "*"));
  EXPECT_FALSE(bypasses_proxy("api.stripe.com", 443, ""));
}

TEST(Backoff, FullJitterStaysWithinTheCappedExponentialCeiling) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const milliseconds ceiling = std::min<milliseconds>(milliseconds(200 * (1LL << attempt)), milliseconds(5000));
    for (std::uint64_t r : {0ULL, 1ULL, 12345ULL, ~0ULL}) {
      const auto d = full_jitter_backoff(attempt, milliseconds(200), seconds(5), r);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d, ceiling);
    }
  }
  EXPECT_EQ(full_jitter_backoff(3, milliseconds(200), seconds(5), 1600), milliseconds(1600));
  EXPECT_EQ(full_jitter_backoff(3, milliseconds(200), seconds(5), 1601), milliseconds(0));
}

TEST(RetryAfter, ReadsSecondsAndHttpDates) {
  const auto now = core::Timestamp(seconds(784111777));  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), seconds(120));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), seconds(30));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), milliseconds(0));  // in the past
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("Sun, 31 Feb 1994 08:50:07 GMT", now));
}

TEST(RateLimiter, SpacesRequestsAfterTheBurst) {
  RateLimiter limiter(10, 2);  // one per 100 ms, two at once
  EXPECT_FALSE(limiter.try_acquire(at(1000)));
  EXPECT_FALSE(limiter.try_acquire(at(1000)));
  auto wait = limiter.try_acquire(at(1000));
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, milliseconds(100));
  EXPECT_FALSE(limiter.try_acquire(at(1100)));
  // A 429's Retry-After holds everyone back.
  limiter.block_until(at(5000));
  auto blocked = limiter.try_acquire(at(1200));
  ASSERT_TRUE(blocked);
  EXPECT_GE(*blocked, milliseconds(3800));
  EXPECT_FALSE(limiter.try_acquire(at(5000)));
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndProbesOnceWhenHalfOpen) {
  CircuitBreaker breaker(3, seconds(30));
  breaker.record(false, at(0));
  breaker.record(false, at(0));
  breaker.record(true, at(0));  // success resets the count
  breaker.record(false, at(0));
  breaker.record(false, at(0));
  EXPECT_TRUE(breaker.allow(at(0)));
  breaker.record(false, at(1000));
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::open);
  EXPECT_FALSE(breaker.allow(at(30999)));
  EXPECT_TRUE(breaker.allow(at(31000)));  // the probe
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::half_open);
  EXPECT_FALSE(breaker.allow(at(31001)));  // one probe at a time
  breaker.record(false, at(31500));
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::open);
  EXPECT_FALSE(breaker.allow(at(40000)));
  EXPECT_TRUE(breaker.allow(at(61500)));
  breaker.record(true, at(61600));
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::closed);
  EXPECT_TRUE(breaker.allow(at(61601)));
}

TEST(Headers, AreFoundCaseInsensitively) {
  const Headers headers = {{"Content-Type", "a"}, {"retry-after", "5"}};
  EXPECT_EQ(find_header(headers, "Retry-After"), "5");
  EXPECT_EQ(find_header(headers, "content-type"), "a");
  EXPECT_FALSE(find_header(headers, "X-Missing"));
}

}  // namespace
}  // namespace topupd::adapters::net
