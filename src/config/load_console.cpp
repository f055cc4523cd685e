// Loading the web console's section:
//
//   console:
//     listen: 127.0.0.1:9480          # beyond loopback only with tls
//     tls: {cert: …, key: …}
//     url: https://topupd.example.com # links to a waiting top-up in notifications
//     session_idle: 30m
//     session_max: 12h
//     history: 30d                    # how long balances are kept for the charts
//     assets: /usr/share/topupd/console
//     auth: local                     # users made with topupctl user add (the default)
//     auth:
//       proxy: {header: X-Forwarded-Email, groups_header: X-Forwarded-Groups,
//               trusted_proxies: [127.0.0.1/32], roles: {finance-leads: approver, it: admin}}
#include "loader.hpp"

namespace topupd::config::detail {

void Loader::load_console(const YAML::Node& node) {
  Map map(*this, node, "console",
          {"listen", "tls", "url", "session_idle", "session_max", "history", "assets", "auth"});
  if (!map.valid()) return;
  auto& c = config_.console;
  c.enabled = true;
  if (!listen_at(map, c.host, c.port) && !map.has("listen")) {
    map.missing("listen", "the address people's browsers reach, e.g. 127.0.0.1:9480");
  }
  tls_at(map, "console.tls", c.tls_cert, c.tls_key);
  if (auto url = string_at(map, "url")) {
    if (url->rfind("https://", 0) != 0 && url->rfind("http://", 0) != 0) {
      error("console.url", config_.locations.find("console.url"), "must start with https:// (or http:// on loopback)");
    }
    while (!url->empty() && url->back() == '/') url->pop_back();
    c.url = *url;
  }
  if (auto path = string_at(map, "assets")) c.assets = *path;
  if (auto d = duration_at(map, "session_idle")) c.session_idle = *d;
  if (auto d = duration_at(map, "session_max")) c.session_max = *d;
  if (auto d = duration_at(map, "history")) c.history_keep = *d;
  const YAML::Node* auth = map.get("auth");
  if (!auth) return;
  if (auth->IsScalar()) {
    if (auth->Scalar() != "local") {
      error("console.auth", config_.locations.find("console.auth"), "expected local or {proxy: {…}}");
    }
    return;
  }
  Map auth_map(*this, *auth, "console.auth", {"proxy"});
  if (!auth_map.valid()) return;
  const YAML::Node* proxy_node = auth_map.get("proxy");
  if (!proxy_node) {
    auth_map.missing("proxy", "{header: X-Forwarded-Email, trusted_proxies: [127.0.0.1/32], roles: {GROUP: ROLE}}");
    return;
  }
  Map proxy(*this, *proxy_node, "console.auth.proxy", {"header", "groups_header", "trusted_proxies", "roles"});
  if (!proxy.valid()) return;
  c.proxy = true;
  if (auto header = string_at(proxy, "header")) c.proxy_header = *header;
  if (auto header = string_at(proxy, "groups_header")) c.proxy_groups_header = *header;
  if (auto list = networks_at(proxy, "trusted_proxies")) c.trusted_proxies = *list;
  if (!proxy.has("trusted_proxies")) {
    proxy.missing("trusted_proxies", "the auth proxy's addresses, e.g. [127.0.0.1/32]: nobody else may name a user");
  }
  if (const YAML::Node* roles_node = proxy.get("roles")) {
    Map roles(*this, *roles_node, "console.auth.proxy.roles", {});
    if (roles.valid() && roles.entries().empty()) {
      error(roles.path(), config_.locations.find(roles.path()), "names no group: nobody could sign in");
    }
    for (const auto& [group, value] : roles.entries()) {
      const std::string field = roles.child_path(group);
      const auto text = scalar(value, field);
      if (!text) continue;
      const auto role = core::role_from(text->text);
      if (!role) {
        error(field, config_.locations.find(field), "expected viewer, approver or admin");
        continue;
      }
      c.proxy_roles.emplace_back(group, *role);
    }
  } else {
    proxy.missing("roles", "which groups are which role, e.g. {finance: approver, it: admin}");
  }
}

}  // namespace topupd::config::detail
