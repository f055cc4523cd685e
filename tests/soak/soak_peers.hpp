// The soak's peers on loopback, each on its own thread: notifier endpoints that can be
// told to hang, fail or rate-limit, and the webhook relay between the sandbox and
// topupd, which plays the gateways' delivery: it takes every webhook the sandbox sends,
// keeps it, and delivers it to topupd until topupd answers 2xx (late, and sometimes
// twice), so that every genuine event can be checked off at the end.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "integration/process.hpp"
#include "topupd/adapters/net/http_server.hpp"

namespace topupd::testing {

// An HTTP server on its own thread answering with `handler`.
class HttpPeer {
 public:
  using Handler = std::function<adapters::net::ServerResponse(const adapters::net::ServerRequest&)>;
  explicit HttpPeer(Handler handler, int port = 0)
      : server_(io_, {}, std::move(handler)) {
    address_ = server_.listen("127.0.0.1", static_cast<std::uint16_t>(port));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpPeer() {
    io_.stop();
    thread_.join();
  }
  std::string url(const std::string& path = "/") const { return "http://" + address_ + path; }

 private:
  boost::asio::io_context io_;
  adapters::net::Server server_;
  std::string address_;
  std::thread thread_;
};

// A notifier's endpoint (a `webhook` notifier posts here) in one of four moods.
class NotifierPeer {
 public:
  enum class Mood { ok, hang, fail, rate_limited };
  static const char* name(Mood m) {
    return m == Mood::ok ? "ok" : m == Mood::hang ? "hang" : m == Mood::fail ? "500" : "429";
  }

  NotifierPeer() : peer_([this](const adapters::net::ServerRequest&) { return answer(); }) {}
  std::string url() const { return peer_.url("/notify"); }
  void set(Mood mood) { mood_ = mood; }
  Mood mood() const { return mood_; }
  int delivered() const { return delivered_; }

 private:
  adapters::net::ServerResponse answer() {
    const Mood mood = mood_;
    if (mood == Mood::ok) {
      ++delivered_;
      return adapters::net::ServerResponse::json(200, R"({"ok":true})");
    }
    if (mood == Mood::hang) {
      adapters::net::ServerResponse r;
      r.action = adapters::net::ServerResponse::Action::hang;
      return r;
    }
    if (mood == Mood::fail) return adapters::net::ServerResponse::json(500, R"({"error":"told to fail"})");
    auto r = adapters::net::ServerResponse::json(429, R"({"error":"slow down"})");
    r.headers.emplace_back("Retry-After", "3");
    return r;
  }

  std::atomic<Mood> mood_{Mood::ok};
  std::atomic<int> delivered_{0};
  HttpPeer peer_;
};

// One webhook as the sandbox sent it.
struct Delivery {
  std::string path;
  adapters::net::Headers headers;
  std::string body;
};

// Between the sandbox and topupd's receiver. Every webhook is answered 200 at once and
// queued; a worker delivers the queue to `target_port` in order, again and again until
// topupd answers 2xx (a gateway's retries: topupd may be restarting, its store full, or
// its clock wrong). `late` holds deliveries back for a while, `twice` sends each twice.
class Relay {
 public:
  explicit Relay(int target_port)
      : target_port_(target_port),
        peer_([this](const adapters::net::ServerRequest& r) { return take(r); }),
        worker_([this] { work(); }) {}
  ~Relay() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    worker_.join();
  }

  std::string url(const std::string& path) const { return peer_.url(path); }
  void set_late(std::chrono::milliseconds late) { late_ms_ = static_cast<int>(late.count()); }
  void set_twice(bool twice) { twice_ = twice; }

  // Every distinct delivery taken from the sandbox, for replays.
  std::vector<Delivery> genuine() const {
    std::lock_guard lock(mutex_);
    return genuine_;
  }
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  // Answers topupd gave, by status (0: no answer).
  std::map<int, int> answers() const {
    std::lock_guard lock(mutex_);
    return answers_;
  }
  int sent_twice() const { return sent_twice_; }
  // Deliveries never answered 2xx after kMaxAttempts tries.
  int given_up() const {
    std::lock_guard lock(mutex_);
    return given_up_;
  }

 private:
  struct Queued {
    Delivery delivery;
    std::chrono::steady_clock::time_point not_before;
    int attempts = 0;
  };

  adapters::net::ServerResponse take(const adapters::net::ServerRequest& r) {
    Delivery d{r.path, {}, r.body};
    for (const auto& [name, value] : r.headers) {
      static const std::set<std::string> kHop = {"host", "content-length", "connection"};
      std::string lower;
      for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!kHop.count(lower)) d.headers.emplace_back(name, value);
    }
    {
      std::lock_guard lock(mutex_);
      if (seen_.insert(d.path + '\n' + d.body).second) genuine_.push_back(d);
      queue_.push_back({d, std::chrono::steady_clock::now() + std::chrono::milliseconds(late_ms_.load())});
    }
    wake_.notify_all();
    return adapters::net::ServerResponse::json(200, R"({"ok":true})");
  }

  void work() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (queue_.empty() || queue_.front().not_before > std::chrono::steady_clock::now()) {
        wake_.wait_for(lock, std::chrono::milliseconds(100));
        continue;
      }
      Queued next = queue_.front();
      lock.unlock();
      const int sends = twice_ ? 2 : 1;
      int status = 0;
      for (int i = 0; i < sends; ++i) {
        status = http_request("POST", "127.0.0.1", target_port_, next.delivery.path, next.delivery.body,
                              next.delivery.headers).status;
        if (i == 1) ++sent_twice_;
      }
      lock.lock();
      ++answers_[status];
      if (status >= 200 && status < 300) {
        queue_.pop_front();
      } else if (++queue_.front().attempts >= kMaxAttempts) {
        ++given_up_;  // as a gateway gives up, after about two minutes of refusals
        queue_.pop_front();
      } else {
        // As a gateway does: try again a little later, behind nothing else.
        queue_.front().not_before = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      }
    }
  }

  static constexpr int kMaxAttempts = 240;
  int target_port_;
  std::atomic<int> late_ms_{0};
  std::atomic<bool> twice_{false};
  std::atomic<int> sent_twice_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  std::set<std::string> seen_;
  std::vector<Delivery> genuine_;
  std::map<int, int> answers_;
  int given_up_ = 0;
  bool stop_ = false;
  HttpPeer peer_;
  std::thread worker_;
};

}  // namespace topupd::testing
