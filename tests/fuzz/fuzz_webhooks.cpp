// Fuzzes the webhook verifiers with hostile headers and bodies: none may crash,
// read out of bounds or accept a request whose signature was not made with the secret
// (the secret here never appears in the input's MAC unless the fuzzer finds a
// collision, so any acceptance of a MAC-checked scheme is a bug).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "topupd/adapters/webhooks/verify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace topupd::adapters::webhooks;
  const std::string input(reinterpret_cast<const char*>(data), size);
  // The first line is the header value, the rest is the body.
  const auto newline = input.find('\n');
  const std::string header = input.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : input.substr(newline + 1);
  const auto now = topupd::core::Timestamp(std::chrono::seconds(1700000000));
  const auto with = [&](const char* name) {
    return Incoming{"POST", "/v1.0/debit/notify", {{name, header}, {"X-TIMESTAMP", header}}, body, now};
  };
  const std::string secret = "fuzz-secret-never-in-the-input";
  if (verify_stripe(with("Stripe-Signature"), secret, std::chrono::seconds(300)).ok()) std::abort();
  if (verify_iris(with("Iris-Signature"), secret).ok()) std::abort();
  if (verify_generic(with("X-Signature"), secret, GenericScheme{}).ok()) std::abort();
  if (verify_snap(with("X-SIGNATURE"), "not a key", std::chrono::seconds(300)).ok()) std::abort();
  (void)verify_xendit(with("x-callback-token"), secret);
  (void)verify_flip(with("Content-Type"), secret);
  return 0;
}
