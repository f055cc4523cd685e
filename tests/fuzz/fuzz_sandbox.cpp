// Fuzzes the stand-alone sandbox: every request a client can send it — the gateways'
// own APIs (Stripe, Xendit, SNAP, Midtrans Iris, Flip, the generic API) and its
// control API (/_sandbox/faults, accounts, pay, payouts, token expiry) — as a
// sequence of up to eight requests on one sandbox, then its webhooks after the
// movements settle. Nothing may crash, every answer has a real status, and the ledger
// is always valid JSON.
//
// An input is requests separated by the byte 0x1e; each is "METHOD /path?query",
// then "Name: value" header lines, an empty line, and the body.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fakes/fake_clock.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/sandbox/gateway.hpp"
#include "topupd/config/config.hpp"

namespace {

// A throw-away RSA key made at start, as PKCS#8 and public PEM.
std::pair<std::string, std::string> make_key() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  auto pem = [&](bool is_private) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (is_private) PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return out;
  };
  auto pair = std::make_pair(pem(true), pem(false));
  EVP_PKEY_free(key);
  return pair;
}

const topupd::config::SandboxServerConfig& sandbox_config() {
  static const topupd::config::SandboxServerConfig config = [] {
    const auto client = make_key();
    const auto sandbox = make_key();
    topupd::config::SecretSources secrets;
    secrets.env = [](const std::string&) { return std::nullopt; };
    secrets.read_file = [&](const std::string& name) -> std::optional<std::string> {
      if (name == "client.pub") return client.second;
      if (name == "sandbox.key") return sandbox.first;
      return std::nullopt;
    };
    const auto loaded = topupd::config::load_sandbox_string(R"(gateways:
  stripe:
    secret_key: sk_test_fuzz
    webhook_secret: whsec_fuzz
    webhook_url: http://127.0.0.1:9/webhooks/stripe
    settle_after: 1s
    decline: 20%
    accounts:
      acct_a: {balance: USD 5_000, drain_per_minute: USD 100}
  xendit:
    secret_key: xnd_development_fuzz
    callback_token: fuzz-token
    webhook_url: http://127.0.0.1:9/webhooks/xendit
    payout_list_lag: 1s
    deposit_bank: BCA
    deposit_account_no: "7770001234"
    deposit_name: PT Xendit Topup
    settle_after: 1s
    accounts:
      master: {balance: IDR 46_000_000, drain_per_minute: IDR 3_000_000}
      sub: {balance: IDR 1_000_000}
  snap:
    client_id: FUZZ
    client_secret: fuzz-secret
    client_public_key: ${file:client.pub}
    private_key: ${file:sandbox.key}
    path_prefix: /snap
    bank_code: "014"
    webhook_url: http://127.0.0.1:9/snap/v1.0/debit/notify
    settle_after: 1s
    accounts:
      "9876543210": {balance: IDR 900_000_000}
  midtrans_iris:
    api_key: IRIS-fuzz
    merchant_key: iris-merchant-fuzz
    webhook_url: http://127.0.0.1:9/webhooks/iris
    accounts:
      aggregator: {balance: IDR 80_000_000}
  flip:
    secret_key: flip-fuzz
    validation_token: flip-token
    deposit_bank: BNI
    deposit_account_no: "8001234567"
    deposit_name: PT Flip Topup
    settle_after: 1s
    accounts:
      main: {balance: IDR 30_000_000}
  generic:
    token: generic-fuzz
    accounts:
      wallet: {balance: IDR 10_000_000, fail: 10%}
)",
                                                            "fuzz-sandbox.yaml", secrets);
    if (!loaded.config) std::abort();
    return *loaded.config;
  }();
  return config;
}

topupd::adapters::net::ServerRequest request_of(std::string_view text) {
  topupd::adapters::net::ServerRequest r;
  const auto line_end = text.find('\n');
  const std::string_view first = text.substr(0, line_end);
  const auto space = first.find(' ');
  r.method = std::string(first.substr(0, space));
  r.target = space == std::string_view::npos ? "/" : std::string(first.substr(space + 1));
  const auto question = r.target.find('?');
  r.path = r.target.substr(0, question);
  r.query = question == std::string::npos ? "" : r.target.substr(question + 1);
  r.remote_address = "127.0.0.1";
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : text.substr(line_end + 1);
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  r.body = std::string(rest);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  topupd::testing::FakeClock clock;
  topupd::adapters::sandbox::Gateway gateway(sandbox_config(), clock);
  std::size_t start = 0;
  for (int n = 0; n < 8 && start <= input.size(); ++n) {
    const auto end = input.find('\x1e', start);
    const auto answer = gateway.handle(request_of(input.substr(start, end == std::string_view::npos ? end : end - start)));
    if (answer.status < 100 || answer.status > 599) std::abort();
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  clock.advance(std::chrono::seconds(5));
  (void)gateway.take_webhooks();
  if (!topupd::adapters::json::parse(gateway.ledger_json())) std::abort();
  return 0;
}
