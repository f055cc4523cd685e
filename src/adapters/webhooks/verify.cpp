#include "topupd/adapters/webhooks/verify.hpp"

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"

namespace topupd::adapters::webhooks {
namespace {

Verification accepted() { return {Verdict::accepted, ""}; }
Verification malformed(std::string why) { return {Verdict::malformed, std::move(why)}; }
Verification bad_signature(std::string why) { return {Verdict::bad_signature, std::move(why)}; }

bool all_digits(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// |now - at| within the tolerance.
bool fresh(core::Timestamp at, core::Timestamp now, core::Duration tolerance) {
  const auto age = now - at;
  return age <= tolerance && -age <= tolerance;
}

}  // namespace

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::accepted: return "accepted";
    case Verdict::bad_signature: return "bad_signature";
    case Verdict::stale: return "stale";
    case Verdict::malformed: return "malformed";
  }
  return "malformed";
}

Verification verify_stripe(const Incoming& in, std::string_view secret, core::Duration tolerance) {
  const auto header = net::find_header(in.headers, "Stripe-Signature");
  if (!header || header->empty()) return malformed("no Stripe-Signature header");
  std::string timestamp;
  std::vector<std::string> candidates;
  std::size_t pos = 0;
  const std::string& h = *header;
  while (pos <= h.size()) {
    const auto end = std::min(h.find(',', pos), h.size());
    const std::string item = h.substr(pos, end - pos);
    pos = end + 1;
    const auto eq = item.find('=');
    if (eq == std::string::npos) return malformed("Stripe-Signature entry without '='");
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (key == "t") {
      if (!timestamp.empty() || !all_digits(value, 12)) return malformed("Stripe-Signature has a bad or second t");
      timestamp = value;
    } else if (key == "v1" && value.size() == 64 && crypto::unhex(value)) {
      candidates.push_back(lower(value));  // entries that are not hex are skipped, as Stripe's SDKs do
    }
  }
  if (timestamp.empty()) return malformed("Stripe-Signature has no timestamp");
  if (candidates.empty()) return bad_signature("no v1 signature");
  const std::string expected = crypto::hex(crypto::hmac_sha256(secret, timestamp + "." + in.body));
  bool match = false;
  for (const auto& candidate : candidates) match = crypto::constant_time_equal(candidate, expected) || match;
  if (!match) return bad_signature("no v1 signature matches");
  const core::Timestamp at{std::chrono::seconds(std::stoll(timestamp))};
  if (!fresh(at, in.now, tolerance)) {
    return {Verdict::stale, fmt::format("signed at t={}, outside the {} tolerance", timestamp,
                                        core::format_duration(tolerance))};
  }
  return accepted();
}

Verification verify_snap(const Incoming& in, std::string_view public_key_pem, core::Duration tolerance) {
  const auto timestamp = net::find_header(in.headers, "X-TIMESTAMP");
  const auto signature_text = net::find_header(in.headers, "X-SIGNATURE");
  if (!timestamp || !signature_text) return malformed("X-TIMESTAMP or X-SIGNATURE missing");
  const auto at = core::parse_rfc3339(*timestamp);
  if (!at) return malformed("X-TIMESTAMP is not ISO-8601 with an offset");
  const auto signature = crypto::unbase64(*signature_text);
  if (!signature || signature->empty()) return malformed("X-SIGNATURE is not base64");
  const auto body = json::parse(in.body);
  if (!body) return malformed("the body is not JSON");
  const std::string signed_text =
      in.method + ":" + in.path + ":" + crypto::hex(crypto::sha256(body->serialize())) + ":" + *timestamp;
  if (!crypto::rsa_sha256_verify(public_key_pem, signed_text, *signature)) return bad_signature("RSA signature mismatch");
  if (!fresh(*at, in.now, tolerance)) return {Verdict::stale, "X-TIMESTAMP outside the tolerance"};
  return accepted();
}

Verification verify_iris(const Incoming& in, std::string_view merchant_key) {
  const auto given = net::find_header(in.headers, "Iris-Signature");
  if (!given || given->empty()) return malformed("no Iris-Signature header");
  const std::string expected = crypto::hex(crypto::sha512(in.body + std::string(merchant_key)));
  if (!crypto::constant_time_equal(lower(*given), expected)) return bad_signature("Iris-Signature mismatch");
  return accepted();
}

Verification verify_xendit(const Incoming& in, std::string_view callback_token) {
  const auto given = net::find_header(in.headers, "x-callback-token");
  if (!given || given->empty()) return malformed("no x-callback-token header");
  if (!crypto::constant_time_equal(*given, callback_token)) return bad_signature("x-callback-token mismatch");
  return accepted();
}

Verification verify_flip(const Incoming& in, std::string_view validation_token) {
  std::optional<std::string> token, data;
  for (const auto& [key, value] : net::parse_form(in.body)) {
    if (key == "token") token = value;
    if (key == "data") data = value;
  }
  if (!token || !data) return malformed("the form has no token or no data");
  if (!crypto::constant_time_equal(*token, validation_token)) return bad_signature("token mismatch");
  return accepted();
}

Verification verify_generic(const Incoming& in, std::string_view secret, const GenericScheme& scheme) {
  const auto given = net::find_header(in.headers, scheme.header);
  if (!given || given->empty()) return malformed("no " + scheme.header + " header");
  std::string signed_text = in.body;
  std::optional<core::Timestamp> at;
  if (!scheme.timestamp_header.empty()) {
    const auto stamp = net::find_header(in.headers, scheme.timestamp_header);
    if (!stamp || !all_digits(*stamp, 12)) return malformed(scheme.timestamp_header + " is not unix seconds");
    at = core::Timestamp(std::chrono::seconds(std::stoll(*stamp)));
    signed_text = *stamp + "." + in.body;
  }
  const std::string mac = crypto::hmac_sha512(secret, signed_text);
  const bool match = scheme.base64 ? crypto::constant_time_equal(*given, crypto::base64(mac))
                                   : crypto::constant_time_equal(lower(*given), crypto::hex(mac));
  if (!match) return bad_signature(scheme.header + " mismatch");
  if (at && !fresh(*at, in.now, scheme.tolerance)) return {Verdict::stale, "timestamp outside the tolerance"};
  return accepted();
}

}  // namespace topupd::adapters::webhooks
