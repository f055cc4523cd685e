// A webhook flood at the receiver's connection limit: forged deliveries (a genuine one
// with its signature or token altered), replays of genuine ones, bodies over the size
// limit and bodies that are not JSON, sent from many connections at once while the
// relay keeps delivering the genuine ones. None may be accepted as new.
#pragma once

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "soak/soak_peers.hpp"

namespace topupd::testing {

struct FloodResult {
  int forged = 0, replayed = 0, oversized = 0, malformed = 0;
  int accepted_forged = 0;  // forged, oversized or malformed answered 2xx: must stay 0
  int refused_connections = 0;
  std::string accepted_detail{};  // what was accepted that should not have been
};

inline Delivery altered(Delivery d, std::mt19937& random) {
  static const std::set<std::string> kSigned = {"stripe-signature", "x-callback-token", "x-signature", "iris-signature"};
  for (auto& [name, value] : d.headers) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!kSigned.count(lower) || value.empty()) continue;
    const std::size_t at = value.size() - 1 - random() % std::min<std::size_t>(value.size(), 8);
    value[at] = value[at] == 'a' ? 'b' : 'a';
  }
  return d;
}

// `count` deliveries over `connections` threads. Without a genuine delivery to imitate
// yet, a Stripe-shaped one stands in.
inline FloodResult webhook_flood(int port, std::vector<Delivery> genuine, int count, int connections, unsigned seed) {
  if (genuine.empty()) {
    genuine.push_back({"/webhooks/stripe", {{"Content-Type", "application/json"}, {"Stripe-Signature", "t=1,v1=00"}},
                       R"({"id":"evt_flood","type":"topup.succeeded"})"});
  }
  std::atomic<int> forged{0}, replayed{0}, oversized{0}, malformed{0}, accepted_forged{0}, refused{0};
  std::mutex detail_mutex;
  std::string detail;
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(seed + static_cast<unsigned>(t));
      for (int i = t; i < count; i += connections) {
        const Delivery& original = genuine[random() % genuine.size()];
        Delivery d = original;
        const int kind = static_cast<int>(random() % 4);
        if (kind == 0) d = altered(original, random);
        else if (kind == 2) d.body = "{\"padding\":\"" + std::string(80 * 1024, 'x') + "\"}";
        else if (kind == 3) d.body = "{\"id\": [not json";
        const int status = http_request("POST", "127.0.0.1", port, d.path, d.body, d.headers).status;
        if (status == 0) ++refused;
        (kind == 0 ? forged : kind == 1 ? replayed : kind == 2 ? oversized : malformed)++;
        if (kind != 1 && status >= 200 && status < 300) {
          ++accepted_forged;
          static const char* const kKinds[] = {"forged", "replayed", "oversized", "malformed"};
          std::lock_guard lock(detail_mutex);
          detail += fmt::format("{} delivery to {} answered {}; headers:", kKinds[kind], d.path, status);
          for (const auto& [name, value] : d.headers) detail += " " + name + "=" + value;
          detail += "; body: " + d.body.substr(0, 300) + "\n";
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return {forged, replayed, oversized, malformed, accepted_forged, refused, detail};
}

}  // namespace topupd::testing
