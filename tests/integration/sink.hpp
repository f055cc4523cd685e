// An HTTP sink on loopback: records every request it gets and answers with a status
// the test chooses (200 by default), on its own thread.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "topupd/adapters/net/http_server.hpp"

namespace topupd::testing {

class Sink {
 public:
  struct Received {
    adapters::net::ServerRequest request;
    int answered = 0;
  };

  Sink() : server_(io_, {}, [this](const adapters::net::ServerRequest& r) { return answer(r); }) {
    address_ = server_.listen("127.0.0.1", 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Sink() {
    io_.stop();
    thread_.join();
  }

  std::string url(const std::string& path = "/") const { return "http://" + address_ + path; }
  void answer_with(int status) { status_ = status; }
  std::vector<Received> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  // Requests answered 2xx.
  std::vector<adapters::net::ServerRequest> accepted() const {
    std::vector<adapters::net::ServerRequest> out;
    for (const auto& r : received()) {
      if (r.answered >= 200 && r.answered < 300) out.push_back(r.request);
    }
    return out;
  }

 private:
  adapters::net::ServerResponse answer(const adapters::net::ServerRequest& request) {
    const int status = status_;
    {
      std::lock_guard lock(mutex_);
      received_.push_back({request, status});
    }
    if (status >= 200 && status < 300) return adapters::net::ServerResponse::json(status, R"({"ok":true})");
    return adapters::net::ServerResponse::json(status, R"({"ok":false,"description":"sink told to fail"})");
  }

  boost::asio::io_context io_;
  adapters::net::Server server_;
  std::string address_;
  std::thread thread_;
  std::atomic<int> status_{200};
  mutable std::mutex mutex_;
  std::vector<Received> received_;
};

}  // namespace topupd::testing
