// Writes COUNT distinct Stripe events signed with SECRET at the current time, one per
// line as "<Stripe-Signature>\t<body>", for bench/webhooks.lua. With ACCOUNTS, each event
// is a Connect event naming one of the connected accounts acct_bench0 … acct_bench<ACCOUNTS-1>
// in turn; without, it names none (the platform's own balance).
//
//   webhook_bodies SECRET COUNT [ACCOUNTS] > bodies.txt
#include <cstdio>
#include <ctime>
#include <string>

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: webhook_bodies SECRET COUNT [ACCOUNTS]\n");
    return 2;
  }
  const std::string secret = argv[1];
  const long long count = std::stoll(argv[2]);
  const long long accounts = argc == 4 ? std::stoll(argv[3]) : 0;
  const std::string t = std::to_string(static_cast<long long>(std::time(nullptr)));
  for (long long i = 0; i < count; ++i) {
    const std::string account = accounts > 0 ? fmt::format(R"("account":"acct_bench{}",)", i % accounts) : "";
    const std::string body = fmt::format(
        R"({{"id":"evt_bench{:010}","object":"event",{}"api_version":"2024-06-20","created":{},)"
        R"("type":"balance.available","data":{{"object":{{"object":"balance","available":[{{"amount":{},)"
        R"("currency":"usd"}}]}}}},"livemode":false}})",
        i, account, t, 100000 + i);
    const std::string mac = topupd::adapters::crypto::hex(topupd::adapters::crypto::hmac_sha256(secret, t + "." + body));
    std::fputs(("t=" + t + ",v1=" + mac + "\t" + body + "\n").c_str(), stdout);
  }
  return 0;
}
