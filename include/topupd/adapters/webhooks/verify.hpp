// Verifying webhooks from gateways: one function per scheme, pure (no I/O, `now` is
// passed in), constant-time wherever a secret or MAC is compared. A verdict says
// which of the receiver's outcomes applies; `detail` is for logs and never contains
// a secret or the expected signature.
#pragma once

#include <string>
#include <string_view>

#include "topupd/adapters/net/http.hpp"
#include "topupd/core/time.hpp"

namespace topupd::adapters::webhooks {

enum class Verdict { accepted, bad_signature, stale, malformed };
const char* to_string(Verdict verdict);

struct Incoming {
  std::string method;
  std::string path;  // exactly as received (SNAP signs it)
  net::Headers headers;
  std::string body;  // raw bytes, never re-serialised before a MAC is checked
  core::Timestamp now;
};

struct Verification {
  Verdict verdict;
  std::string detail;
  bool ok() const { return verdict == Verdict::accepted; }
};

// Stripe-Signature: t=<unix>,v1=<hex>[,v1=…][,v0=…]: HMAC-SHA256(secret, "<t>.<body>");
// any v1 may match (secret rolling); entries that are not hex are skipped; older than
// `tolerance` (or further in the future) is stale.
Verification verify_stripe(const Incoming& in, std::string_view secret, core::Duration tolerance);

// SNAP notification: X-SIGNATURE = base64(SHA256withRSA(sender key,
// "METHOD:path:lowerhex(sha256(minified body)):X-TIMESTAMP")), X-TIMESTAMP within `tolerance`.
Verification verify_snap(const Incoming& in, std::string_view public_key_pem, core::Duration tolerance);

// Midtrans Iris: Iris-Signature = lowerhex(SHA-512(body + merchant key)).
Verification verify_iris(const Incoming& in, std::string_view merchant_key);

// Xendit: x-callback-token equals the dashboard's verification token.
Verification verify_xendit(const Incoming& in, std::string_view callback_token);

// Flip: a form body whose `token` equals the validation token (and a `data` field).
Verification verify_flip(const Incoming& in, std::string_view validation_token);

// Any other sender: HMAC-SHA512(secret, [timestamp + "."] + body) in `header`, hex or
// base64, with an optional unix-seconds timestamp header checked against `tolerance`.
struct GenericScheme {
  std::string header = "X-Signature";
  bool base64 = false;
  std::string timestamp_header;  // empty: no timestamp
  core::Duration tolerance{std::chrono::minutes(5)};
};
Verification verify_generic(const Incoming& in, std::string_view secret, const GenericScheme& scheme);

}  // namespace topupd::adapters::webhooks
