// The web console: see console.hpp. This file: the server, the dispatch of requests,
// the actions behind the forms (approve, reject, silence, acknowledge, pause) with their
// role, CSRF and TOTP checks, and the static assets.
#include "console.hpp"

#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "console_html.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/sys/logging.hpp"

#ifndef TOPUPD_CONSOLE_ASSETS
#define TOPUPD_CONSOLE_ASSETS "/usr/share/topupd/console"
#endif
#ifndef TOPUPD_CONSOLE_ASSETS_BUILD
#define TOPUPD_CONSOLE_ASSETS_BUILD ""
#endif

namespace topupd::app {

namespace asio = boost::asio;
namespace net = adapters::net;
using adapters::field;

namespace {

// Sessions past their time are forgotten, and the balance history is thinned, hourly.
constexpr auto kPruneEvery = std::chrono::hours(1);

// The files the console serves, and their types: nothing else under /assets/ exists.
const std::map<std::string, std::string>& asset_types() {
  static const std::map<std::string, std::string> kTypes = {
      {"console.css", "text/css; charset=utf-8"},
      {"console.js", "text/javascript; charset=utf-8"},
      {"uPlot.iife.min.js", "text/javascript; charset=utf-8"},
      {"uPlot.min.css", "text/css; charset=utf-8"}};
  return kTypes;
}

std::string assets_dir(const config::ConsoleConfig& config) {
  if (!config.assets.empty()) return config.assets;
  namespace fs = std::filesystem;
  std::error_code ignored;
  if (fs::exists(fs::path(TOPUPD_CONSOLE_ASSETS) / "console.js", ignored)) return TOPUPD_CONSOLE_ASSETS;
  // Run from the build tree (make demo, the tests): the copy the build made.
  return TOPUPD_CONSOLE_ASSETS_BUILD;
}

}  // namespace

ConsoleServer::ConsoleServer(asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics,
                             adapters::Store& store, ConsoleNeighbours neighbours)
    : io_(io),
      clock_(clock),
      metrics_(metrics),
      store_(store),
      neighbours_(std::move(neighbours)),
      proxy_secret_(adapters::crypto::random_bytes(32)),
      hashing_(std::make_unique<asio::thread_pool>(1)) {}

ConsoleServer::~ConsoleServer() {
  stop();
  hashing_->join();
}

void ConsoleServer::stop() {
  if (server_) server_->stop();
  hashing_->stop();
}

std::string ConsoleServer::listen(const config::ConsoleConfig& config) {
  config_ = config;
  assets_dir_ = assets_dir(config);
  if (!std::filesystem::exists(std::filesystem::path(assets_dir_) / "uPlot.iife.min.js")) {
    spdlog::warn("the console's charts will not draw: no uPlot.iife.min.js in {} (console.assets)", assets_dir_);
  }
  net::ServerOptions options;
  options.tls_cert_file = config.tls_cert;
  options.tls_key_file = config.tls_key;
  options.max_body_bytes = 16 * 1024;
  options.request_timeout = std::chrono::seconds(15);
  options.max_connections = 256;
  auto server = std::make_unique<net::Server>(
      io_, std::move(options), net::AsyncHandler([this](net::ServerRequest request) { return handle(std::move(request)); }));
  const std::string address = server->listen(config.host, config.port);
  server_ = std::move(server);
  metrics_.console_serving();
  spdlog::info("serving the console address={} tls={} auth={}", address, config.tls_cert.empty() ? "off" : "on",
               config.proxy ? "proxy" : "local");
  return address;
}

asio::awaitable<ConsoleServer::Response> ConsoleServer::handle(Request request) {
  Response response;
  try {
    const core::Timestamp now = clock_.now();
    if (now - pruned_at_ >= kPruneEvery) {
      pruned_at_ = now;
      store_.console().forget_sessions(now - config_.session_idle, now - config_.session_max);
    }
    if (request.path.rfind("/assets/", 0) == 0 && request.method == "GET") co_return asset(request.path.substr(8));
    if (request.path == "/login" && !config_.proxy) {
      if (request.method == "POST") co_return co_await login(request);
      const auto query = html::params(request.query);
      co_return login_page(html::param(query, "expired").empty() ? "" : "Your session ended; sign in again.", "");
    }
    bool expired = false;
    const auto viewer = viewer_of(request, expired);
    if (!viewer) {
      if (config_.proxy) {
        co_return html::respond(401, "text/plain; charset=utf-8",
                                "Sign in through the company's sign-in proxy; this address does not name you.\n");
      }
      if (request.method != "GET") co_return html::respond(401, "text/plain; charset=utf-8", "Sign in first.\n");
      co_return html::redirect(expired ? "/login?expired=1" : "/login");
    }
    if (request.method == "POST" && request.path.rfind("/users/", 0) == 0) {
      co_return co_await change_user(request, *viewer);
    }
    if (request.method == "POST") co_return act(request, *viewer);
    if (request.method != "GET") co_return html::respond(405, "text/plain; charset=utf-8", "GET or POST\n");
    co_return route(request, *viewer);
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("console");
    spdlog::error("console: the store failed: {} path={}", e.what(), field(request.path));
    response = html::respond(503, "text/plain; charset=utf-8",
                             "The store cannot be reached now; nothing was changed. Try again in a moment.\n");
  } catch (const std::exception& e) {
    spdlog::error("console: a request failed: {} path={}", e.what(), field(request.path));
    response = html::respond(500, "text/plain; charset=utf-8",
                             "Something went wrong on the server; reload the page to see what was done.\n");
  }
  co_return response;
}

ConsoleServer::Response ConsoleServer::route(const Request& request, const Viewer& viewer) {
  const std::string& path = request.path;
  if (path == "/") return overview(request, viewer);
  if (path == "/history.json") return history_json(request);
  if (path == "/top-ups") return top_ups(request, viewer, false);
  if (path == "/top-ups.csv") return top_ups(request, viewer, true);
  if (path.rfind("/top-ups/", 0) == 0) {
    return top_up(path.substr(9), viewer, html::param(html::params(request.query), "note"));
  }
  if (path == "/alerts") return alerts(viewer, html::param(html::params(request.query), "note"));
  if (path == "/approvals") return approvals(viewer, html::param(html::params(request.query), "note"));
  if (path == "/audit") return audit_page(request, viewer);
  if (path == "/users") return users_page(viewer, html::param(html::params(request.query), "note"));
  return page(viewer, "Not found", "<p>There is no such page.</p>", 404);
}

ConsoleServer::Response ConsoleServer::act(const Request& request, const Viewer& viewer) {
  const std::string actor = "console:" + viewer.user;
  const auto forbidden = [&](const std::string& what) {
    neighbours_.audit(actor, "refused", fmt::format("{} {}: {}", request.method, request.path.substr(0, 200), what));
    return page(viewer, "Not allowed", "<p>" + html::esc(what) + "</p>", 403);
  };
  if (!csrf_ok(request, viewer)) return forbidden("this form is stale or was not sent by the console; reload the page");
  if (request.path == "/logout") return logout(request, viewer);
  const auto form = html::params(request.body);
  const std::string& path = request.path;
  const auto with_note = [](const std::string& where, const std::string& note) {
    return html::redirect(where + "?note=" + html::url(note));
  };

  // /approvals/KEY/approve, /approvals/KEY/reject
  if (path.rfind("/approvals/", 0) == 0) {
    if (!core::may(viewer.role, core::Action::approve)) return forbidden("only approvers decide about top-ups");
    const std::string rest = path.substr(11);
    const auto slash = rest.rfind('/');
    if (slash == std::string::npos) return forbidden("no such action");
    const std::string key = rest.substr(0, slash);
    const std::string verb = rest.substr(slash + 1);
    if (verb != "approve" && verb != "reject") return forbidden("no such action");
    if (!second_factor_ok(viewer, html::param(form, "code"))) {
      neighbours_.audit(actor, verb + " refused", key + ": wrong or used one-time code");
      return with_note("/top-ups/" + html::url(key), "The one-time code was wrong or already used; nothing changed.");
    }
    const std::string reason = html::param(form, "reason").substr(0, 500);
    if (verb == "reject" && reason.empty()) {
      return with_note("/top-ups/" + html::url(key), "A rejection needs a reason; nothing changed.");
    }
    const auto decided = neighbours_.decide(key, verb == "approve", viewer.user,
                                            verb == "approve" ? "in the console"
                                                              : "in the console by " + viewer.user + ": " + reason);
    if (decided.refused) {
      neighbours_.audit(actor, verb + " refused", key + ": " + *decided.refused);
      return with_note("/top-ups/" + html::url(key), *decided.refused);
    }
    std::string note = "Rejected; nothing was sent.";
    if (verb == "approve") {
      note = decided.released ? fmt::format("Approved ({} of {}); it is being sent now.", decided.approvals, decided.needed)
                              : fmt::format("Your approval is kept ({} of {}); it waits for another approver.",
                                            decided.approvals, decided.needed);
    }
    neighbours_.audit(actor, verb, fmt::format("{}{}", key, reason.empty() ? "" : ": " + reason));
    return with_note("/top-ups/" + html::url(key), note);
  }
  if (path == "/alerts/silence") {
    if (!core::may(viewer.role, core::Action::silence)) return forbidden("only approvers silence or acknowledge");
    const auto kind = html::param(form, "kind") == "ack" ? adapters::SilenceKind::ack : adapters::SilenceKind::silence;
    const std::string duration = html::param(form, "duration").empty() ? "2h" : html::param(form, "duration");
    if (auto refused = neighbours_.silence(kind, html::param(form, "target"), duration,
                                           html::param(form, "reason").substr(0, 500), actor)) {
      return with_note("/alerts", *refused);
    }
    return with_note("/alerts", kind == adapters::SilenceKind::ack ? "Acknowledged." : "Silenced.");
  }
  if (path == "/alerts/unsilence") {
    if (!core::may(viewer.role, core::Action::silence)) return forbidden("only approvers lift silences");
    const bool lifted = neighbours_.unsilence(html::param(form, "target"), actor);
    return with_note("/alerts", lifted ? "Notifications resumed." : "Nothing silenced that.");
  }
  if (path == "/pause" || path == "/resume") {
    if (!core::may(viewer.role, core::Action::pause)) return forbidden("only admins pause and resume top-ups");
    neighbours_.pause(path == "/pause", actor);
    return with_note("/", path == "/pause" ? "Paused: no top-up starts until resumed." : "Top-ups may start again.");
  }
  return forbidden("no such action");
}

ConsoleServer::Response ConsoleServer::asset(const std::string& name) const {
  const auto type = asset_types().find(name);
  if (type == asset_types().end()) return html::respond(404, "text/plain; charset=utf-8", "no such file\n");
  std::ifstream in(std::filesystem::path(assets_dir_) / name, std::ios::binary);
  if (!in) return html::respond(404, "text/plain; charset=utf-8", "no such file\n");
  std::ostringstream body;
  body << in.rdbuf();
  Response r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", type->second);
  r.headers.emplace_back("Cache-Control", "public, max-age=3600");
  html::secure_headers(r);
  r.body = body.str();
  return r;
}

}  // namespace topupd::app
