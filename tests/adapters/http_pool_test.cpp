// The HTTP client's pool of kept-alive connections and its queue for a slot, against a
// loopback server that answers every request after a short pause (so that concurrent
// requests need connections of their own): what a burst opened is closed once idle for
// idle_keep, even while steady traffic keeps reusing one connection; a request that
// waits behind the concurrency cap is told when it waits and when it has its slot.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/loop.hpp"
#include "support/loopback_server.hpp"
#include "topupd/adapters/net/http_client.hpp"

namespace topupd::adapters::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Keep-alive HTTP/1.1 (each connection on a thread of its own): every request is
// answered "ok" after 100 ms.
void serve_slowly(int fd) {
  std::string data;
  char buffer[4096];
  while (true) {
    const auto end = data.find("\r\n\r\n");
    if (end == std::string::npos) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n <= 0) return;  // the client closed it
      data.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    data.erase(0, end + 4);
    std::this_thread::sleep_for(100ms);
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    if (send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(reply.size())) return;
  }
}

class HttpPoolTest : public ::testing::Test {
 protected:
  ClientOptions options() const {
    ClientOptions o;
    o.concurrency = 8;
    o.rate_per_second = 1000;
    o.max_attempts = 1;
    o.proxy = "";
    o.idle_keep = 30s;
    return o;
  }
  // Sends `n` GETs at once and runs the loop until every one is answered; request `i`'s
  // waits for a slot are written to `queue_of[i]` when given: "+" when it waits, "-"
  // when it has its slot.
  void burst(Client& client, int n, std::vector<std::string>* queue_of = nullptr) {
    int answered = 0;
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> asio::awaitable<void> {
            Request request;
            request.url = "http://127.0.0.1:" + std::to_string(server_.port()) + "/balance";
            if (queue_of) request.on_queue = [queue_of, i](bool waiting) { (*queue_of)[i] += waiting ? "+" : "-"; };
            auto result = co_await client.send(std::move(request));
            if (result && result->status == 200) ++answered;
          },
          asio::detached);
    }
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (answered < n && std::chrono::steady_clock::now() < deadline) io_.run_for(10ms);
    ASSERT_EQ(answered, n);
  }
  // The server sees a connection close a moment after the client closes it.
  bool server_holds(int n) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (server_.open() != n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return server_.open() == n;
  }

  testing::LoopbackServer server_{serve_slowly};
  asio::io_context io_;
  testing::FakeClock clock_;
  testing::FixedRandom random_;
};

TEST_F(HttpPoolTest, ConnectionsABurstOpenedCloseOnceIdleWhileSteadyTrafficReusesOne) {
  Client client(io_.get_executor(), options(), clock_, random_);
  burst(client, 6);
  EXPECT_EQ(client.stats().connections_opened, 6u);
  EXPECT_EQ(client.stats().idle_connections, 6u);

  // Steady traffic: one request at a time, every 20 s, reuses the connection used last.
  clock_.advance(20s);
  burst(client, 1);
  clock_.advance(20s);
  burst(client, 1);
  EXPECT_EQ(client.stats().connections_opened, 6u) << "a kept connection was not reused";
  // The five the burst left have been idle for 40 s: closed, at both ends.
  EXPECT_EQ(client.stats().idle_connections, 1u);
  EXPECT_TRUE(server_holds(1)) << server_.open() << " connections still open at the server";
}

TEST_F(HttpPoolTest, ARequestWaitingBehindTheConcurrencyCapIsToldWhenItWaitsAndWhenItHasItsSlot) {
  ClientOptions one_at_a_time = options();
  one_at_a_time.concurrency = 1;
  Client client(io_.get_executor(), one_at_a_time, clock_, random_);
  std::vector<std::string> queue_of(3);
  burst(client, 3, &queue_of);
  // The first has its slot at once and hears nothing; the others wait, then have it.
  EXPECT_EQ(queue_of, (std::vector<std::string>{"", "+-", "+-"}));
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

}  // namespace
}  // namespace topupd::adapters::net
