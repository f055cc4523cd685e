// A Notifier that records every batch it is given and answers as a test scripts.
#pragma once

#include <deque>
#include <vector>

#include "topupd/adapters/notify/notifier.hpp"

namespace topupd::testing {

class RecordingNotifier final : public adapters::Notifier {
 public:
  explicit RecordingNotifier(bool hears_every_change = false) : hears_every_change_(hears_every_change) {}

  std::vector<std::vector<adapters::Notification>> batches;  // what reached it, in order
  std::deque<adapters::DeliveryResult> answers;              // the next answers; delivered when empty

  boost::asio::awaitable<adapters::DeliveryResult> deliver(std::span<const adapters::Notification> batch) override {
    batches.emplace_back(batch.begin(), batch.end());
    if (answers.empty()) co_return adapters::DeliveryResult::delivered();
    adapters::DeliveryResult answer = answers.front();
    answers.pop_front();
    co_return answer;
  }
  bool hears_every_change() const override { return hears_every_change_; }

 private:
  bool hears_every_change_;
};

}  // namespace topupd::testing
