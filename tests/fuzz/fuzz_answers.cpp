// Fuzzes how each HTTP gateway adapter reads the gateway's answers: Stripe, Xendit,
// SNAP, Midtrans Iris, Flip and the generic API, each asked for a balance, to move
// money, to look a movement up or to issue a deposit ticket, over real HTTP on loopback
// to a server that answers with the input's status and body. Nothing may crash or
// hang, a balance read is in the currency asked for (unless the answer names its own,
// which the poller then checks), and a Stripe top-up answered 5xx stays "outcome
// unknown" (looked up later, never sent again blindly).
//
// An input is: a byte choosing the gateway, a byte choosing the call, a byte choosing
// the HTTP status, then the body. SNAP's access-token requests are answered with a
// valid token, so the input's answer reaches the call itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "fakes/loop.hpp"
#include "topupd/adapters/providers/http_providers.hpp"
#include "topupd/adapters/sys/system_clock.hpp"

namespace {

namespace asio = boost::asio;
using namespace topupd;

// What the loopback gateway answers next.
struct Answer {
  int status = 200;
  std::string body;
};
std::mutex answer_mutex;
Answer answer;

std::string reason_of(int status) { return status < 300 ? "OK" : status < 500 ? "Refused" : "Error"; }

// Reads one request (headers, then Content-Length bytes of body); its first line.
std::optional<std::string> read_request(int fd) {
  std::string data;
  char buffer[4096];
  std::size_t header_end = std::string::npos;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return std::nullopt;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  std::size_t length = 0;
  for (const char* name : {"Content-Length:", "content-length:"}) {
    const auto at = data.find(name);
    if (at != std::string::npos && at < header_end) length = std::strtoul(data.c_str() + at + std::strlen(name), nullptr, 10);
  }
  while (data.size() < header_end + 4 + length) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return std::nullopt;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data.substr(0, data.find("\r\n"));
}

// Connections accepted and not yet closed. An input ends only once it is 0, so that no
// memory of the server's is in use between inputs (libFuzzer counts it as a leak).
std::atomic<int> busy{0};

// One request per connection, answered and closed; a connection that sends nothing
// for a second is dropped.
void answer_one(int fd) {
  const timeval patience{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof(patience));
  if (const auto line = read_request(fd)) {
    Answer a;
    if (line->find("/access-token/b2b") != std::string::npos) {
      a = {200, R"({"responseCode":"2007300","responseMessage":"Successful","accessToken":"fuzz-token",)"
                R"("tokenType":"Bearer","expiresIn":"900"})"};
    } else {
      std::lock_guard lock(answer_mutex);
      a = answer;
    }
    const std::string reply = "HTTP/1.1 " + std::to_string(a.status) + " " + reason_of(a.status) +
                              "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                              std::to_string(a.body.size()) + "\r\n\r\n" + a.body;
    std::size_t sent = 0;
    while (sent < reply.size()) {
      // A client that gave up early has closed: no SIGPIPE for that.
      const ssize_t n = send(fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
  }
  close(fd);
}

// One of several threads made at start, each taking connections in turn: none made
// or ended while an input runs.
void serve(int listener) {
  while (true) {
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    ++busy;
    answer_one(fd);
    --busy;
  }
}

int start_server() {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), size) != 0 || listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    std::abort();
  }
  for (int i = 0; i < 8; ++i) std::thread(serve, listener).detach();
  return ntohs(address.sin_port);
}

std::string private_key_pem() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

struct Gateway {
  const char* type;
  const char* account;
  bool names_currency;  // the answer says which currency the amount is in
};
constexpr std::array<Gateway, 6> kGateways = {{{"stripe", "acct_payouts", false},
                                               {"xendit", "master", false},
                                               {"snap", "1234567890", false},
                                               {"midtrans_iris", "aggregator", false},
                                               {"flip", "main", false},
                                               {"generic_http", "wallet", true}}};
constexpr std::array<int, 12> kStatuses = {200, 201, 202, 400, 401, 403, 404, 409, 429, 500, 503, 504};

config::ProviderConfig provider_config(const std::string& type, const std::string& base, const std::string& key) {
  config::ProviderConfig c;
  c.name = type;
  c.type = config::provider_type_named(type);
  c.http.base_url = base;
  c.http.max_attempts = 1;  // one answer per call: the input's
  c.http.breaker_failures = 1 << 30;
  c.http.rate_per_second = 1 << 20;
  c.http.request_timeout = std::chrono::seconds(5);
  c.http.proxy = "";
  c.api_key = "fuzz-key";
  if (type == "snap") {
    c.snap.client_id = "CLIENT-1";
    c.snap.partner_id = "CLIENT-1";
    c.snap.client_secret = "snap-client-secret";
    c.snap.private_key = key;
  }
  if (type == "generic_http") {
    c.generic.url = base + "/accounts/{account}/balance";
    c.generic.bearer_token = "fuzz-token";
    c.generic.amount_pointer = "/data/balance/amount";
    c.generic.amount_form = "string";
    c.generic.currency_pointer = "/data/balance/currency";
  }
  return c;
}

struct World {
  asio::io_context io;
  adapters::SystemClock clock;
  testing::FixedRandom random;
  std::vector<std::shared_ptr<adapters::Provider>> providers;

  World() {
    const std::string base = "http://127.0.0.1:" + std::to_string(start_server());
    const std::string key = private_key_pem();
    for (const auto& g : kGateways) {
      providers.push_back(adapters::make_http_provider(provider_config(g.type, base, key), io.get_executor(), clock, random));
    }
  }
};

template <class T>
asio::awaitable<void> store_into(asio::awaitable<T> task, std::optional<T>& out) {
  out.emplace(co_await std::move(task));
}

// Runs one call to its end; a call that never ends is a finding.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  asio::co_spawn(io, store_into(std::move(task), out), asio::detached);
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (!out) {
    if (std::chrono::steady_clock::now() > deadline) std::abort();
    io.run_for(std::chrono::milliseconds(50));
  }
  return std::move(*out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  if (size < 3) return 0;
  const std::size_t which = data[0] % kGateways.size();
  const int call = data[1] % 4;
  const int status = kStatuses[data[2] % kStatuses.size()];
  {
    std::lock_guard lock(answer_mutex);
    answer = {status, std::string(reinterpret_cast<const char*>(data + 3), size - 3)};
  }
  adapters::Provider& provider = *world.providers[which];
  const core::Currency idr = *core::Currency::find("IDR");
  const core::Currency currency = which == 0 ? *core::Currency::find("USD") : idr;

  adapters::TopUpRequest top_up{"topupd-fuzz-rule-1", core::TopUpMethod::direct_debit, kGateways[which].account,
                                "1234567890", core::Money(1'000'000, currency)};
  if (data[1] & 4) {
    // A deposit: the payment leg pays a journalled destination.
    top_up.method = core::TopUpMethod::deposit;
    top_up.pay_to = core::DepositTicket{"", "BNI", "8001234567", "PT Topupd Fuzz"};
  }
  struct Quiet {
    ~Quiet() {
      for (int i = 0; i < 2000 && busy.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  } quiet;
  switch (call) {
    case 0: {
      const auto read = run(world.io, provider.balance({kGateways[which].account, "available", currency}));
      // The generic API names its currency in the answer (currency_pointer); the poller
      // refuses one that is not the account's (currency_mismatch). The others read the
      // amount in the currency asked for.
      if (read && !kGateways[which].names_currency && read->currency() != currency) std::abort();
      break;
    }
    case 1: {
      const auto sent = run(world.io, provider.submit(top_up));
      // Stripe's top-up is one POST: a 5xx may have moved money, so the outcome is unknown.
      if (which == 0 && top_up.method == core::TopUpMethod::direct_debit && status >= 500 &&
          (sent || sent.error().kind != adapters::FailureKind::outcome_unknown)) {
        std::abort();
      }
      break;
    }
    case 2:
      (void)run(world.io, provider.look_up(top_up, (data[1] & 8) ? "ref-1" : ""));
      break;
    default: {
      const adapters::TicketRequest ticket{"topupd-fuzz-rule-1", kGateways[which].account, "BNI", "PT Topupd Fuzz",
                                           core::Money(1'000'000, idr),
                                           core::Timestamp(std::chrono::seconds(1'900'000'000))};
      (void)run(world.io, provider.issue_ticket(ticket));
      break;
    }
  }
  return 0;
}
