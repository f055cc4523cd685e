// The console's sign-in (console.hpp): who is asking — a session cookie of a local user,
// or the identity a trusted auth proxy vouches for — signing in and out, the CSRF token
// of every change and the TOTP step-up at an approval. Every failed sign-in gets the
// same answer; failures are throttled per user name, and every lockout is audited and
// counted.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "console.hpp"
#include "console_html.hpp"
#include "topupd/adapters/auth/credentials.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

namespace asio = boost::asio;
namespace auth = adapters::auth;
using adapters::field;

namespace {

constexpr std::string_view kCookie = "__Host-topupd_session";
constexpr const char* kFailed = "Wrong name, password or code, or too many tries: wait a minute and try again.";

std::string cookie_value(const adapters::net::ServerRequest& request) {
  const auto header = request.header("Cookie");
  return header ? html::cookie(*header, kCookie) : "";
}

std::string session_cookie(const std::string& id, core::Duration max) {
  return fmt::format("{}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}", kCookie, id,
                     std::chrono::duration_cast<std::chrono::seconds>(max).count());
}

std::int64_t unix_seconds(core::Timestamp at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

}  // namespace

std::optional<ConsoleServer::Viewer> ConsoleServer::viewer_of(const Request& request, bool& expired) {
  expired = false;
  if (config_.proxy) {
    // Only the proxy may name a user: from anyone else the headers are not even read.
    const auto address = core::parse_ip(request.remote_address);
    if (!address || !core::any_contains(config_.trusted_proxies, *address)) return std::nullopt;
    const auto user = request.header(config_.proxy_header);
    if (!user || user->empty() || user->size() > 256) return std::nullopt;
    std::optional<core::Role> role;
    const std::string groups = request.header(config_.proxy_groups_header).value_or("");
    std::size_t start = 0;
    while (start <= groups.size()) {
      const auto comma = groups.find(',', start);
      std::string group = groups.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      while (!group.empty() && group.front() == ' ') group.erase(group.begin());
      while (!group.empty() && group.back() == ' ') group.pop_back();
      for (const auto& [name, mapped] : config_.proxy_roles) {
        if (name == group && (!role || static_cast<int>(mapped) > static_cast<int>(*role))) role = mapped;
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (!role) return std::nullopt;
    return Viewer{*user, *role, "", false};
  }
  const std::string id = cookie_value(request);
  if (id.empty() || id.size() > 128) return std::nullopt;
  const std::string hash = auth::session_hash(id);
  const auto session = store_.console().session(hash);
  if (!session) return std::nullopt;
  const core::Timestamp now = clock_.now();
  if (!core::session_alive(session->created_at, session->last_seen_at, now, config_.session_idle,
                           config_.session_max)) {
    store_.console().remove_session(hash);
    expired = true;
    return std::nullopt;
  }
  const auto user = store_.console().user(session->user);
  if (!user) return std::nullopt;
  store_.console().touch_session(hash, now);
  return Viewer{user->name, user->role, id, !user->totp_secret.empty()};
}

asio::awaitable<ConsoleServer::Response> ConsoleServer::login(const Request& request) {
  const auto form = html::params(request.body);
  const std::string name = html::param(form, "user");
  const std::string password = html::param(form, "password");
  const std::string code = html::param(form, "code");
  const core::Timestamp now = clock_.now();
  auto user = name.size() <= 64 ? store_.console().user(name) : std::nullopt;
  const bool locked = user && core::login_locked(user->failures, now);
  // The password is checked (or, for an unknown name or a locked one, the same work is
  // done) on the hashing thread: an argon2id check must not stall polls.
  const std::string stored = user && !locked ? user->password_hash : "";
  const auto check = [stored, password]() -> asio::awaitable<bool> {
    if (stored.empty()) {
      auth::verify_nothing(password);
      co_return false;
    }
    co_return auth::verify_password(stored, password);
  };
  const bool password_ok = co_await asio::co_spawn(*hashing_, check, asio::use_awaitable);
  // Back on the event loop (the coroutine resumes on its own executor); the user is read
  // again, since another request may have changed it meanwhile.
  if (user) user = store_.console().user(name);
  bool ok = user && !locked && password_ok;
  if (ok && !user->totp_secret.empty()) {
    const auto step = auth::totp_accept(user->totp_secret, code, unix_seconds(clock_.now()), user->totp_last_step);
    ok = step.has_value();
    if (step) user->totp_last_step = step;
  }
  if (!ok) {
    metrics_.count_console_login(locked ? "locked" : "failed");
    if (user && !locked) {
      user->failures = core::after_failed_login(user->failures, clock_.now(), core::LoginThrottle{});
      store_.console().update_user(*user);
      if (core::login_locked(user->failures, clock_.now())) {
        metrics_.count_console_login("locked");
        neighbours_.audit("console " + request.remote_address, "login locked",
                          fmt::format("{} until {}", name, core::format_rfc3339(*user->failures.locked_until)));
        spdlog::warn("console sign-in locked after failures user={} until={}", field(name),
                     core::format_rfc3339(*user->failures.locked_until));
      }
    }
    neighbours_.audit("console " + request.remote_address, "login failed", name.substr(0, 64));
    co_return login_page(kFailed, name);
  }
  user->failures = {};
  store_.console().update_user(*user);
  const std::string id = auth::new_session_id();
  store_.console().add_session({auth::session_hash(id), user->name, clock_.now(), clock_.now()});
  metrics_.count_console_login("ok");
  neighbours_.audit("console:" + user->name, "login", fmt::format("from {}", request.remote_address));
  spdlog::info("console sign-in user={} role={}", field(user->name), core::to_string(user->role));
  Response r = html::redirect("/");
  r.headers.emplace_back("Set-Cookie", session_cookie(id, config_.session_max));
  co_return r;
}

ConsoleServer::Response ConsoleServer::logout(const Request&, const Viewer& viewer) {
  if (!viewer.session_id.empty()) store_.console().remove_session(auth::session_hash(viewer.session_id));
  neighbours_.audit("console:" + viewer.user, "logout", "");
  Response r = html::redirect("/login");
  r.headers.emplace_back("Set-Cookie", fmt::format("{}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0", kCookie));
  return r;
}

std::string ConsoleServer::csrf_of(const Viewer& viewer) const {
  if (!viewer.session_id.empty()) return auth::csrf_token(viewer.session_id);
  return adapters::crypto::base64url(adapters::crypto::hmac_sha256(proxy_secret_, viewer.user));
}

bool ConsoleServer::csrf_ok(const Request& request, const Viewer& viewer) const {
  const std::string given = html::param(html::params(request.body), "csrf");
  if (given.empty()) return false;
  return adapters::crypto::constant_time_equal(csrf_of(viewer), given);
}

bool ConsoleServer::second_factor_ok(const Viewer& viewer, const std::string& code) {
  if (!viewer.has_totp) return true;
  auto user = store_.console().user(viewer.user);
  if (!user) return false;
  const auto step = auth::totp_accept(user->totp_secret, code, unix_seconds(clock_.now()), user->totp_last_step);
  if (!step) return false;
  user->totp_last_step = step;
  store_.console().update_user(*user);
  return true;
}

}  // namespace topupd::app
