// The stand-alone sandbox (`topupd sandbox`) as a test peer, and the openssl command
// line for keys and certificates made fresh in each test.
#pragma once

#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "integration/process.hpp"

namespace topupd::testing {

inline void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {TOPUPD_OPENSSL};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_command(argv);
  if (result.status != 0) throw std::runtime_error("openssl failed: " + result.output);
}

// An RSA key pair: NAME.key (PKCS#8) and NAME.pub in `dir`.
inline void make_key_pair(const TempDir& dir, const std::string& name) {
  openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", dir.file(name + ".key")});
  openssl({"pkey", "-in", dir.file(name + ".key"), "-pubout", "-out", dir.file(name + ".pub")});
}

// A throw-away CA (ca.pem) and a server certificate NAME.pem/NAME.key signed by it
// for `subject_alt_names` (e.g. "IP:127.0.0.1,DNS:localhost").
inline void make_ca(const TempDir& dir) {
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file("ca.key"), "-out", dir.file("ca.pem"),
           "-days", "2", "-subj", "/CN=topupd test CA"});
}
inline void make_server_cert(const TempDir& dir, const std::string& name, const std::string& subject_alt_names) {
  openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.file(name + ".key"), "-out", dir.file(name + ".csr"),
           "-subj", "/CN=topupd test server"});
  dir.write(name + ".ext", "subjectAltName=" + subject_alt_names + "\n");
  openssl({"x509", "-req", "-in", dir.file(name + ".csr"), "-CA", dir.file("ca.pem"), "-CAkey", dir.file("ca.key"),
           "-CAcreateserial", "-out", dir.file(name + ".pem"), "-days", "2", "-extfile", dir.file(name + ".ext")});
}

// Waits until `log` has a line matching `pattern` and returns its first group.
// Gives up early when `process` has ended.
inline std::string wait_for_line(const std::string& log, const std::string& pattern,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(15),
                                 Process* process = nullptr) {
  std::smatch match;
  std::string text;
  const std::regex re(pattern);
  eventually([&] {
    text = read_file(log);
    return std::regex_search(text, match, re) || (process && !process->running());
  }, timeout);
  if (match.empty()) throw std::runtime_error("no line matching " + pattern + " in " + log + ":\n" + text);
  return match[1];
}

class Sandbox {
 public:
  // `config` is the sandbox YAML; empty: the built-in gateways.
  explicit Sandbox(const std::string& config = "", std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {TOPUPD_BINARY, "sandbox", "--listen", "127.0.0.1:0"};
    if (!config.empty()) {
      dir_.write("sandbox.yaml", config);
      argv.insert(argv.end(), {"--config", dir_.file("sandbox.yaml")});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Process>(argv, std::map<std::string, std::string>{}, dir_.file("sandbox.log"));
    port_ = std::stoi(wait_for_line(dir_.file("sandbox.log"), R"(sandbox listening on https?://127\.0\.0\.1:(\d+))",
                                    std::chrono::seconds(15), process_.get()));
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return read_file(dir_.file("sandbox.log")); }
  Process& process() { return *process_; }
  HttpResult get(const std::string& path) const { return http_get("127.0.0.1", port_, path); }
  HttpResult post(const std::string& path, const std::string& body) const {
    return http_request("POST", "127.0.0.1", port_, path, body);
  }
  std::string ledger() const { return get("/_sandbox/ledger").body; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// One movement of the sandbox's ledger (IDR only).
struct LedgerEntry {
  std::string provider;
  std::string kind;
  std::string account;
  std::string source;
  std::int64_t amount_minor = 0;
  std::string key;
  bool settled = false;
};

inline std::vector<LedgerEntry> ledger_entries(const Sandbox& sandbox) {
  std::vector<LedgerEntry> out;
  const std::string text = sandbox.ledger();
  const std::regex entry(
      R"#(\{"provider":"([a-z_]+)","id":"[^"]*","kind":"([a-z_]+)","account":"([^"]*)","source":"([^"]*)","amount_minor":(\d+),"currency":"IDR","idempotency_key":"([^"]+)","created_at":"[^"]*","settled":(true|false))#");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
    out.push_back({(*it)[1], (*it)[2], (*it)[3], (*it)[4], std::stoll((*it)[5]), (*it)[6], (*it)[7] == "true"});
  }
  return out;
}

}  // namespace topupd::testing
