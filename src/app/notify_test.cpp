#include "notify_test.hpp"

#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "topupd/adapters/notify/http_notifiers.hpp"
#include "topupd/adapters/notify/message.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "topupd/adapters/sys/system_clock.hpp"

namespace topupd::app {
namespace {

boost::asio::awaitable<void> send(adapters::Notifier& notifier, adapters::Notification n,
                                  adapters::DeliveryResult& out) {
  const std::vector<adapters::Notification> batch = {std::move(n)};
  auto call = notifier.deliver(batch);
  out = co_await std::move(call);
}

}  // namespace

int notify_test(const config::Config& config, const std::string& name) {
  const config::NotifierConfig* notifier_config = config.find_notifier(name);
  if (!notifier_config) {
    std::string known;
    for (const auto& n : config.notifiers) known += (known.empty() ? "" : ", ") + n.name;
    std::printf("no notifier named '%s' in %s (configured: %s)\n", name.c_str(), config.path.c_str(),
                known.empty() ? "none" : known.c_str());
    return 1;
  }
  adapters::init_logging();
  boost::asio::io_context io;
  adapters::SystemClock clock;
  adapters::SystemRandom random;
  auto notifier = adapters::make_notifier(*notifier_config, io.get_executor(), clock, random);
  adapters::Notification n;
  n.kind = core::DecisionKind::alert_firing;
  n.rule = "topupd-notify-test";
  n.account = config.accounts.empty() ? "-" : config.accounts.front().name;
  n.severity = "info";
  n.reason = "A test message from topupd notify-test: if you read this, the notifier '" + name + "' works.";
  if (!config.accounts.empty()) n.balance = core::Money(1'000'000 * config.accounts.front().currency.minor_per_major(), config.accounts.front().currency);
  n.at = n.fired_at = clock.now();
  adapters::DeliveryResult result = adapters::DeliveryResult::retry("no answer");
  boost::asio::co_spawn(io, send(*notifier, n, result), boost::asio::detached);
  io.run();
  const char* outcome = result.kind == adapters::DeliveryResult::Kind::delivered ? "delivered"
                        : result.kind == adapters::DeliveryResult::Kind::rejected ? "refused (not worth retrying)"
                                                                                   : "failed (would be retried)";
  std::printf("notifier %s (%s): %s%s%s\n", name.c_str(), std::string(config::to_string(notifier_config->type.value_or(config::NotifierType::log))).c_str(), outcome,
              result.detail.empty() ? "" : ": ", result.detail.c_str());
  return result.kind == adapters::DeliveryResult::Kind::delivered ? 0 : 1;
}

}  // namespace topupd::app
