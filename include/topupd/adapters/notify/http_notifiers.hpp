// Notifiers that speak HTTP: Slack incoming webhooks (Block Kit, coloured by
// severity), the Telegram Bot API (sendMessage, HTML), a signed JSON webhook and the
// Alertmanager v2 API. Each has its own HTTP client (TLS verified, proxy, timeout) whose
// rate limit paces it (Slack and Telegram default to 1 message a second).
//
// The webhook notifier signs every body: X-Topupd-Timestamp is unix seconds and
// X-Topupd-Signature is "sha512=" + hex(HMAC-SHA512(secret, timestamp + "." + body)),
// so receivers can check it and refuse replays.
//
// Alertmanager forgets an alert whose endsAt passes, so firing alerts are sent with
// endsAt = now + 4 × resend and re-sent every `resend`; a resolved alert is sent with
// endsAt = its resolution time and re-sent for 15 minutes, to every configured
// instance. Its identity is the labels alertname (the rule), rule, account, severity.
#pragma once

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::adapters {

// Builds the notifier `config` describes (any type, including log).
std::shared_ptr<Notifier> make_notifier(const config::NotifierConfig& config, boost::asio::any_io_executor executor,
                                        const core::Clock& clock, core::Random& random);

// The bodies, for tests and for `topupd notify-test`.
std::string slack_payload(std::span<const Notification> batch, const config::NotifierConfig& config);
std::string telegram_payload(std::span<const Notification> batch, const config::NotifierConfig& config);
// sendPhoto's multipart/form-data body: the chat, a caption and the PNG.
std::string telegram_photo(const std::string& chat_id, const std::string& caption, const std::string& png,
                           const std::string& boundary);
std::string webhook_payload(std::span<const Notification> batch, const config::NotifierConfig& config);
std::string alertmanager_payload(std::span<const Notification> alerts, const config::NotifierConfig& config,
                                 core::Timestamp now);

}  // namespace topupd::adapters
