// The console's Users page (console.hpp): admins see the local users and add them, change
// their role, reset a password (which lifts a lock) and remove them — what `topupctl
// user` does on the server. Passwords are hashed on the console's hashing thread, never
// on the event loop; every change is audited. Behind an auth proxy there are no local
// users to manage.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "console.hpp"
#include "console_html.hpp"
#include "topupd/adapters/auth/credentials.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

namespace asio = boost::asio;
using adapters::field;
using html::esc;

namespace {

std::string role_options(core::Role selected) {
  std::string out;
  for (core::Role role : {core::Role::viewer, core::Role::approver, core::Role::admin}) {
    out += fmt::format(R"(<option value="{0}"{1}>{0}</option>)", core::to_string(role), role == selected ? " selected" : "");
  }
  return out;
}

}  // namespace

ConsoleServer::Response ConsoleServer::users_page(const Viewer& viewer, const std::string& note) {
  if (!core::may(viewer.role, core::Action::manage_users)) {
    return page(viewer, "Users", "<p>Only admins manage users.</p>", 403);
  }
  if (config_.proxy) return page(viewer, "Users", "<p>Users come from the sign-in proxy; none is kept here.</p>");
  const std::string csrf = csrf_of(viewer);
  std::string rows;
  for (const auto& user : store_.console().users()) {
    const std::string name = esc(user.name);
    rows += fmt::format(
        R"(<tr><td>{0}</td><td>{1}{2}<input type="hidden" name="name" value="{0}"><select name="role">{3}</select>)"
        R"(<button type="submit">Change role</button></form></td><td>{4}</td><td>{5}</td><td>{6})"
        R"(<input type="hidden" name="name" value="{0}"><input type="password" name="password" placeholder="new password" )"
        R"(autocomplete="new-password"><button type="submit">Set password</button></form> {7})"
        R"(<input type="hidden" name="name" value="{0}"><button type="submit">Remove</button></form></td></tr>)",
        name, html::form_open("/users/role", csrf, "inline"), "", role_options(user.role),
        user.totp_secret.empty() ? "no" : "yes",
        user.failures.locked_until ? esc(core::format_rfc3339(*user.failures.locked_until)) : "-",
        html::form_open("/users/password", csrf, "inline"), html::form_open("/users/remove", csrf, "inline"));
  }
  std::string body = note.empty() ? "" : "<p class=\"note\">" + esc(note) + "</p>";
  body += fmt::format(
      R"(<table id="users"><thead><tr><th>Name</th><th>Role</th><th>One-time codes</th><th>Locked until</th><th></th>)"
      R"(</tr></thead><tbody>{}</tbody></table><h2>Add a user</h2>{})"
      R"(<label>Name <input name="name" required maxlength="64"></label> <label>Role <select name="role">{}</select></label> )"
      R"(<label>Password <input type="password" name="password" required minlength="{}" autocomplete="new-password"></label> )"
      R"(<button type="submit">Add</button></form><p>One-time codes are enrolled on the server: )"
      R"(<code>topupctl user totp NAME</code> prints the code to scan.</p>)",
      rows, html::form_open("/users/add", csrf, "search"), role_options(core::Role::viewer), core::kMinPasswordLength);
  return page(viewer, "Users", body);
}

asio::awaitable<ConsoleServer::Response> ConsoleServer::change_user(const Request& request, const Viewer& viewer) {
  const std::string actor = "console:" + viewer.user;
  if (!csrf_ok(request, viewer)) {
    neighbours_.audit(actor, "refused", request.path + ": stale form");
    co_return page(viewer, "Not allowed", "<p>This form is stale or was not sent by the console; reload the page.</p>",
                   403);
  }
  if (!core::may(viewer.role, core::Action::manage_users) || config_.proxy) {
    neighbours_.audit(actor, "refused", request.path + ": not an admin");
    co_return page(viewer, "Not allowed", "<p>Only admins manage users.</p>", 403);
  }
  const auto form = html::params(request.body);
  const std::string name = html::param(form, "name");
  const std::string password = html::param(form, "password");
  const auto done = [](const std::string& note) { return html::redirect("/users?note=" + html::url(note)); };
  if (!core::valid_user_name(name)) co_return done("A user's name is 1 to 64 letters, digits and - _ . @.");
  adapters::ConsoleStore& users = store_.console();
  std::string hash;
  if (request.path == "/users/add" || request.path == "/users/password") {
    if (password.size() < core::kMinPasswordLength) {
      co_return done(fmt::format("A password has at least {} characters.", core::kMinPasswordLength));
    }
    const auto hashing = [password]() -> asio::awaitable<std::string> { co_return adapters::auth::hash_password(password); };
    hash = co_await asio::co_spawn(*hashing_, hashing, asio::use_awaitable);
  }
  if (request.path == "/users/add") {
    const auto role = core::role_from(html::param(form, "role"));
    if (!role) co_return done("The role is viewer, approver or admin.");
    adapters::ConsoleUser user;
    user.name = name;
    user.role = *role;
    user.password_hash = hash;
    user.created_at = clock_.now();
    if (!users.add_user(user)) co_return done(fmt::format("A user named {} exists.", name));
    neighbours_.audit(actor, "user add", fmt::format("{} role={}", name, core::to_string(*role)));
    spdlog::info("console user added by {} name={} role={}", field(viewer.user), field(name), core::to_string(*role));
    co_return done(fmt::format("{} added as {}.", name, core::to_string(*role)));
  }
  auto user = users.user(name);
  if (!user) co_return done(fmt::format("No user is named {}.", name));
  if (request.path == "/users/role") {
    const auto role = core::role_from(html::param(form, "role"));
    if (!role) co_return done("The role is viewer, approver or admin.");
    if (name == viewer.user && *role != core::Role::admin) co_return done("An admin cannot take their own admin role.");
    user->role = *role;
    users.update_user(*user);
    neighbours_.audit(actor, "user role", fmt::format("{} role={}", name, core::to_string(*role)));
    co_return done(fmt::format("{} is now {}.", name, core::to_string(*role)));
  }
  if (request.path == "/users/password") {
    user->password_hash = hash;
    user->failures = {};
    users.update_user(*user);
    neighbours_.audit(actor, "user passwd", name);
    co_return done(fmt::format("The password of {} was changed; a lock from failed sign-ins is lifted.", name));
  }
  if (request.path == "/users/remove") {
    if (name == viewer.user) co_return done("An admin cannot remove themselves.");
    users.remove_user(name);
    neighbours_.audit(actor, "user remove", name);
    co_return done(fmt::format("{} was removed; their sessions ended.", name));
  }
  co_return page(viewer, "Not found", "<p>There is no such action.</p>", 404);
}

}  // namespace topupd::app
