// Providers that talk to real gateways over HTTPS: stripe, xendit, snap,
// midtrans_iris, flip and generic_http. Each returns exact Money parsed from the
// gateway's own number text, and maps every failure to retryable / not retryable /
// outcome unknown. Base URLs are configurable, so the sandbox can stand in.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "topupd/adapters/providers/provider.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::adapters {

// Throws std::runtime_error when the settings cannot work (a bad key, a missing CA file).
std::shared_ptr<Provider> make_http_provider(const config::ProviderConfig& config,
                                             boost::asio::any_io_executor executor, const core::Clock& clock,
                                             core::Random& random);

// The wire-level names a provider derives from a top-up's idempotency key; the same
// key always gives the same names, so every retry and look-up uses them.
std::string stripe_idempotency_key(const std::string& key);
std::string snap_partner_reference(const std::string& key);
std::string snap_external_id(const std::string& key);

// Amounts as gateways write them, straight to minor units (no floating point):
// "12345" minor units; "123.45" / 123 major units. Exponent notation is refused.
std::optional<core::Money> parse_minor_text(const std::string& text, core::Currency currency);
std::optional<core::Money> parse_major_text(const std::string& text, core::Currency currency);

}  // namespace topupd::adapters
