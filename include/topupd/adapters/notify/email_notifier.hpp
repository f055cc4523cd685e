// The email notifier: SMTP through libcurl, on a worker thread so the daemon's event
// loop never waits for a mail server.
//
// `smtp://host:587` with `starttls: required` (the default: refuse to send in clear),
// `opportunistic` or `off`; `smtps://host:465` for implicit TLS. AUTH when a username
// is set. Certificates are always verified (`ca_file` adds a trust anchor). A message
// is multipart/alternative, plain text and HTML, both UTF-8 in base64, with a correct
// Date, a unique Message-ID and RFC 2047-encoded headers where they are not ASCII.
// A refused login, a refused recipient or any 5xx is reported and not retried; a
// connection failure, a timeout or a 4xx is retried by the outbox.
#pragma once

#include <memory>
#include <string>

#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::adapters {

std::shared_ptr<Notifier> make_email_notifier(const config::NotifierConfig& config, const core::Clock& clock,
                                              core::Random& random);

// The complete message (headers and body, CRLF line ends), for tests.
std::string email_message(std::span<const Notification> batch, const config::NotifierConfig& config,
                          core::Timestamp now, const std::string& message_id);

// "=?UTF-8?B?…?=" when `text` is not plain printable ASCII, else `text`.
std::string encode_header(std::string_view text);

}  // namespace topupd::adapters
