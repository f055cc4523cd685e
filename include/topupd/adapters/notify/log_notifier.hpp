// A notifier that writes alerts to the daemon's log (and so to journald).
#pragma once

#include "topupd/adapters/notify/notifier.hpp"

namespace topupd::adapters {

class LogNotifier final : public Notifier {
 public:
  explicit LogNotifier(std::string name) : name_(std::move(name)) {}
  boost::asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) override;

 private:
  std::string name_;
};

}  // namespace topupd::adapters
