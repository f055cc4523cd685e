// The client's HTTP/1.1 on the wire: the exact bytes of a request's head (defaults,
// replacement, framing the client owns, refusals of what would break the head), a
// response read into `Response` with either framing and within its limits, and the
// client end to end against a loopback server that records what it received.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/error.hpp>
#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/loop.hpp"
#include "http_wire.hpp"
#include "support/loopback_server.hpp"
#include "topupd/adapters/net/http_client.hpp"

namespace topupd::adapters::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string head_of(const wire::RequestLine& line, const Headers& headers, std::size_t body_size) {
  std::string out;
  auto wrong = wire::write_request_head(out, line, headers, body_size);
  EXPECT_FALSE(wrong) << *wrong;
  return out;
}

std::string refusal(const wire::RequestLine& line, const Headers& headers) {
  std::string out = "kept";
  auto wrong = wire::write_request_head(out, line, headers, 0);
  EXPECT_EQ(out, "kept") << "a refused head must write nothing";
  return wrong.value_or("(accepted)");
}

TEST(HttpWireTest, AGetCarriesHostUserAgentAndItsHeadersInOrderAndNoLength) {
  EXPECT_EQ(head_of({"GET", "/v1/balance?x=1", "api.example.com", ""},
                    {{"Authorization", "Bearer sk"}, {"Stripe-Account", "acct_1"}}, 0),
            "GET /v1/balance?x=1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: topupd\r\n"
            "Authorization: Bearer sk\r\nStripe-Account: acct_1\r\n\r\n");
}

TEST(HttpWireTest, ABodyOrAMethodThatExpectsOneGetsItsLength) {
  EXPECT_EQ(head_of({"POST", "/v1/topups", "h:8080", ""}, {{"Content-Type", "application/json"}}, 17),
            "POST /v1/topups HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: topupd\r\n"
            "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n");
  EXPECT_EQ(head_of({"POST", "/a", "h", ""}, {}, 0),
            "POST /a HTTP/1.1\r\nHost: h\r\nUser-Agent: topupd\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(head_of({"DELETE", "/a", "h", ""}, {}, 0), "DELETE /a HTTP/1.1\r\nHost: h\r\nUser-Agent: topupd\r\n\r\n");
}

TEST(HttpWireTest, TheRequestsOwnHeadersReplaceDefaultsAndEarlierOnesButNotTheFraming) {
  EXPECT_EQ(head_of({"PUT", "/a", "h", "Basic dTpw"},
                    {{"X-Key", "first"},
                     {"user-agent", "ops-probe"},
                     {"Content-Length", "999"},
                     {"Transfer-Encoding", "chunked"},
                     {"Connection", "close"},
                     {"x-key", "second"}},
                    3),
            "PUT /a HTTP/1.1\r\nHost: h\r\nProxy-Authorization: Basic dTpw\r\nuser-agent: ops-probe\r\n"
            "x-key: second\r\nContent-Length: 3\r\n\r\n");
}

TEST(HttpWireTest, WhatWouldBreakTheHeadIsRefusedWithoutShowingAValue) {
  const std::string why = refusal({"GET", "/a", "h", ""}, {{"Authorization", "Bearer sk_live_secret\r\nX-Evil: 1"}});
  EXPECT_EQ(why, "the value of header Authorization holds a line break");
  EXPECT_EQ(why.find("sk_live"), std::string::npos);
  EXPECT_EQ(refusal({"GET", "/a", "h", ""}, {{"X-Nul", std::string("a\0b", 3)}}),
            "the value of header X-Nul holds a line break");
  EXPECT_EQ(refusal({"GET", "/a", "h", ""}, {{"Bad Name", "v"}}), "the header name \"Bad Name\" is not a token");
  EXPECT_EQ(refusal({"GET", "/a", "h", ""}, {{"", "v"}}), "the header name \"\" is not a token");
  EXPECT_EQ(refusal({"GET", "/a b", "h", ""}, {}), "the request target holds a space or a control character");
  EXPECT_EQ(refusal({"GET", "", "h", ""}, {}), "the request target holds a space or a control character");
  EXPECT_EQ(refusal({"G\nT", "/a", "h", ""}, {}), "the method \"G\\nT\" is not a token");
  EXPECT_EQ(refusal({"GET", "/a", "h\r\nX: 1", ""}, {}), "the host or the proxy's credentials hold a line break");
}

// Feeds `text` to a reader in pieces of `piece` bytes, as reads from a socket would.
boost::beast::error_code feed(wire::ResponseReader& reader, std::string_view text, std::size_t piece) {
  std::string pending;
  std::size_t at = 0;
  while (!reader.is_done()) {
    boost::beast::error_code ec;
    const std::size_t used = reader.put(asio::buffer(pending), ec);
    if (ec && ec != boost::beast::http::error::need_more) return ec;
    pending.erase(0, used);
    if (used == 0) {
      if (at >= text.size()) return boost::beast::http::error::need_more;
      pending.append(text.substr(at, piece));
      at += piece;
    }
  }
  return {};
}

TEST(HttpWireTest, AResponseIsReadWithItsStatusHeadersInOrderAndBody) {
  for (std::size_t piece : {1, 7, 4096}) {
    wire::ResponseReader reader(1024);
    ASSERT_FALSE(feed(reader,
                      "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Type: application/json\r\n"
                      "X-Request-Id: req_abcdefghijklmnopqrstuvwxyz\r\nContent-Length: 12\r\n\r\n{\"e\":\"slow\"}",
                      piece))
        << piece;
    EXPECT_TRUE(reader.keep_alive());
    const Response response = reader.take();
    EXPECT_EQ(response.status, 429);
    EXPECT_EQ(response.headers, (Headers{{"Retry-After", "3"},
                                         {"Content-Type", "application/json"},
                                         {"X-Request-Id", "req_abcdefghijklmnopqrstuvwxyz"},
                                         {"Content-Length", "12"}}));
    EXPECT_EQ(response.body, "{\"e\":\"slow\"}");
    EXPECT_EQ(response.header("retry-after"), "3");
  }
}

TEST(HttpWireTest, AChunkedResponseIsJoinedAndItsConnectionWishIsHeard) {
  wire::ResponseReader reader(1024);
  ASSERT_FALSE(feed(reader,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                    3));
  EXPECT_FALSE(reader.keep_alive());
  EXPECT_EQ(reader.take().body, "hello world");

  wire::ResponseReader old(1024);
  ASSERT_FALSE(feed(old, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 64));
  EXPECT_FALSE(old.keep_alive()) << "HTTP/1.0 closes unless it asks to keep the connection";
}

TEST(HttpWireTest, ABodyOverTheLimitIsRefusedWhicheverFramingCarriesIt) {
  wire::ResponseReader declared(10);
  EXPECT_EQ(feed(declared, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890", 4096),
            boost::beast::http::error::body_limit);
  wire::ResponseReader chunked(10);
  EXPECT_EQ(feed(chunked,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n",
                 4096),
            boost::beast::http::error::body_limit);
  wire::ResponseReader garbage(10);
  EXPECT_TRUE(feed(garbage, "HTTP/1.1 two hundred\r\n\r\n", 4096));
}

// Loopback HTTP/1.1 that records every request it receives (head and body, by
// Content-Length) and answers each with a chunked "ok" on the same connection.
class RecordingServer {
 public:
  int port() const { return server_.port(); }
  int connections() const { return server_.accepted(); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve(int fd) {
    std::string data;
    char buffer[4096];
    while (true) {
      const auto end = data.find("\r\n\r\n");
      std::size_t length = 0;
      if (end != std::string::npos) {
        const auto at = data.find("Content-Length: ");
        if (at != std::string::npos && at < end) length = std::stoul(data.substr(at + 16));
      }
      if (end == std::string::npos || data.size() < end + 4 + length) {
        const ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n <= 0) return;  // the client closed it
        data.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(data.substr(0, end + 4 + length));
      }
      data.erase(0, end + 4 + length);
      const std::string reply = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
      if (send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) return;
    }
  }

  std::mutex mutex_;
  std::vector<std::string> requests_;
  testing::LoopbackServer server_{[this](int fd) { serve(fd); }};  // last: stopped before what it records into
};

class HttpWireClientTest : public ::testing::Test {
 protected:
  static ClientOptions options() {
    ClientOptions o;
    o.max_attempts = 1;
    o.proxy = "";
    return o;
  }
  core::Result<Response, Failure> send(Request request) {
    std::optional<core::Result<Response, Failure>> result;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { result = co_await client_.send(std::move(request)); }, asio::detached);
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!result && std::chrono::steady_clock::now() < deadline) io_.run_for(10ms);
    if (!result) throw std::runtime_error("no answer within 10 s");
    return *result;
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_.port()) + path; }

  RecordingServer server_;
  asio::io_context io_;
  testing::FakeClock clock_;
  testing::FixedRandom random_;
  Client client_{io_.get_executor(), options(), clock_, random_};
};

TEST_F(HttpWireClientTest, TheServerReceivesExactlyTheHeadAndBodyAndTheConnectionIsKept) {
  Request post;
  post.method = "POST";
  post.url = url("/v1/payouts?expand=a");
  post.headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "k-1"}};
  post.body = R"({"amount":150000})";
  post.idempotent = true;  // kept alive only for requests that may go again
  auto first = send(post);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, 201);
  EXPECT_EQ(first->body, "ok");

  Request get;
  get.url = url("/v1/balance");
  auto second = send(get);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->body, "ok");

  const std::string host = "127.0.0.1:" + std::to_string(server_.port());
  EXPECT_EQ(server_.requests(),
            (std::vector<std::string>{"POST /v1/payouts?expand=a HTTP/1.1\r\nHost: " + host +
                                          "\r\nUser-Agent: topupd\r\nContent-Type: application/json\r\n"
                                          "Idempotency-Key: k-1\r\nContent-Length: 17\r\n\r\n{\"amount\":150000}",
                                      "GET /v1/balance HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: topupd\r\n\r\n"}));
  EXPECT_EQ(server_.connections(), 1) << "the chunked answer's connection was not reused";
}

TEST_F(HttpWireClientTest, ARequestThatWouldBreakItsHeadFailsBeforeAnythingIsSent) {
  Request request;
  request.method = "POST";
  request.url = url("/v1/payouts");
  request.headers = {{"Authorization", "Bearer sk_live_x\r\nX-Injected: 1"}};
  request.idempotent = false;
  auto result = send(request);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::not_retryable) << "nothing left, so nothing is unknown";
  EXPECT_EQ(result.error().reason, "bad_request");
  EXPECT_EQ(result.error().message.find("sk_live"), std::string::npos) << result.error().message;
  EXPECT_EQ(client_.stats().connections_opened, 0u);
  EXPECT_EQ(server_.connections(), 0);
}

}  // namespace
}  // namespace topupd::adapters::net
