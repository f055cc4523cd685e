// The web console (`console:`): pages for the people who decide about money — the
// accounts with a chart of each balance, the journal, alerts, approvals with four eyes
// and the audit log — rendered here as HTML, with forms that work without JavaScript.
//
// Owns its server, who is signed in (local users: argon2id passwords checked on a
// thread of their own, TOTP, sessions kept as hashes with idle and absolute timeouts,
// throttled failures; or an identity from a trusted auth proxy), the CSRF check of every
// change, the security headers, and one audit entry per sign-in and per action. What a
// role may do is core's (core/access.hpp). Reads the journal, the audit log and the
// balance history from the store; what the daemon knows and does — accounts, open
// top-ups, alerts, approving, silencing, pausing — through its neighbours.
// Private to src/app.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "top_up_executor.hpp"
#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace boost::asio {
class io_context;
class thread_pool;
}  // namespace boost::asio

namespace topupd::app {

// One account as this instance sees it.
struct ConsoleAccount {
  std::string name;
  std::string provider;
  core::Currency currency;
  std::optional<core::Money> balance;
  std::optional<core::Timestamp> observed_at;
  bool fresh = false;
  int failed_polls = 0;
  std::optional<core::Duration> runway;  // with enough history; nullopt: none or not burning
  struct RuleView {
    std::string name;
    std::string condition;
    std::string phase;
    std::optional<core::Money> threshold;  // below / above
  };
  std::vector<RuleView> rules;
};

// A rule that fires or waits to, as the alerts page shows it.
struct ConsoleAlert {
  std::string rule;
  std::string account;
  std::string condition;
  std::string phase;
  std::optional<core::Timestamp> since;
};

struct ConsoleNeighbours {
  std::function<std::vector<ConsoleAccount>()> accounts;
  std::function<std::vector<ConsoleAlert>()> alerts;
  std::function<std::vector<adapters::Silence>()> silences;
  // The executor's open top-ups (those awaiting approval among them).
  std::function<std::vector<core::TopUpRecord>()> open_top_ups;
  std::function<TopUpExecutor::Decided(const std::string& key, bool approve, const std::string& who,
                                       const std::string& how)>
      decide;
  // nullopt when done, else why not.
  std::function<std::optional<std::string>(adapters::SilenceKind kind, const std::string& target,
                                           const std::string& duration, const std::string& reason,
                                           const std::string& who)>
      silence;
  std::function<bool(const std::string& target, const std::string& who)> unsilence;
  std::function<void(bool pause, const std::string& who)> pause;
  std::function<bool()> paused;
  std::function<const core::Rule*(const std::string& name)> rule;
  std::function<void(const std::string& actor, const std::string& action, const std::string& detail)> audit;
};

class ConsoleServer {
 public:
  ConsoleServer(boost::asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics,
                adapters::Store& store, ConsoleNeighbours neighbours);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Binds `console.listen`; returns the bound address. Throws when it cannot.
  std::string listen(const config::ConsoleConfig& config);
  void stop();
  // The settings a reload may change (sessions' timeouts, proxy roles, url).
  void configure(const config::ConsoleConfig& config) { config_ = config; }

  // One request, as the server hands it over.
  boost::asio::awaitable<adapters::net::ServerResponse> handle(adapters::net::ServerRequest request);

  struct Viewer;  // who asks, once signed in (console_auth.cpp)

 private:
  using Request = adapters::net::ServerRequest;
  using Response = adapters::net::ServerResponse;

  // console_auth.cpp: who is asking, signing in and out, the CSRF and TOTP checks.
  std::optional<Viewer> viewer_of(const Request& request, bool& expired);
  boost::asio::awaitable<Response> login(const Request& request);
  Response logout(const Request& request, const Viewer& viewer);
  bool csrf_ok(const Request& request, const Viewer& viewer) const;
  // The step-up at an approval: true when the user has no TOTP or gave a fresh code.
  bool second_factor_ok(const Viewer& viewer, const std::string& code);
  std::string csrf_of(const Viewer& viewer) const;

  // console.cpp: the dispatch and the actions.
  Response route(const Request& request, const Viewer& viewer);
  Response act(const Request& request, const Viewer& viewer);
  Response asset(const std::string& name) const;

  // console_pages.cpp: the pages.
  Response login_page(const std::string& message, const std::string& user) const;
  Response overview(const Request& request, const Viewer& viewer);
  Response history_json(const Request& request);
  Response top_ups(const Request& request, const Viewer& viewer, bool csv);
  Response top_up(const std::string& key, const Viewer& viewer, const std::string& note);
  Response alerts(const Viewer& viewer, const std::string& note);
  Response approvals(const Viewer& viewer, const std::string& note);
  Response audit_page(const Request& request, const Viewer& viewer);
  // console_users.cpp: admins manage the local users (their passwords hashed off the loop).
  Response users_page(const Viewer& viewer, const std::string& note);
  boost::asio::awaitable<Response> change_user(const Request& request, const Viewer& viewer);
  // The page around `body`: navigation, who is signed in, the pause switch.
  Response page(const Viewer& viewer, const std::string& title, const std::string& body, int status = 200) const;

  boost::asio::io_context& io_;
  const core::Clock& clock_;
  adapters::Metrics& metrics_;
  adapters::Store& store_;
  ConsoleNeighbours neighbours_;
  config::ConsoleConfig config_;
  std::string assets_dir_;
  std::string proxy_secret_;  // proxy mode: what CSRF tokens are derived from, new each start
  std::unique_ptr<boost::asio::thread_pool> hashing_;  // argon2id, off the event loop
  std::unique_ptr<adapters::net::Server> server_;
  core::Timestamp pruned_at_{};
};

struct ConsoleServer::Viewer {
  std::string user;
  core::Role role = core::Role::viewer;
  std::string session_id;  // local sign-in: the cookie's id (CSRF is derived from it); proxy: empty
  bool has_totp = false;
};

}  // namespace topupd::app
