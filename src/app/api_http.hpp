// What the API's two files of routes share (api.cpp: accounts, the journal, the
// dispatch; api_demands.cpp: demands): the answers' form, query parameters, and who is
// calling. Private to src/app.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "api.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http.hpp"

namespace topupd::app {

namespace api_http {

using adapters::net::ServerRequest;
using adapters::net::ServerResponse;

// JSON, never cached.
inline ServerResponse answer(int status, std::string body) {
  ServerResponse r = ServerResponse::json(status, std::move(body));
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

inline ServerResponse error(int status, const std::string& message) {
  return answer(status, fmt::format("{{\"error\":{}}}", adapters::json_string(message)));
}

// A demand as the API shows it (api_demands.cpp).
std::string demand_json(const adapters::Demand& d);

// The query's parameters; nullopt with `bad` naming the first one not in `allowed`.
inline std::optional<std::map<std::string, std::string>> query_of(const ServerRequest& request,
                                                          const std::set<std::string>& allowed, std::string& bad) {
  std::map<std::string, std::string> out;
  for (auto& [name, value] : adapters::net::parse_form(request.query)) {
    if (!allowed.count(name)) {
      bad = name;
      return std::nullopt;
    }
    out[name] = value;
  }
  return out;
}

}  // namespace api_http

struct ApiServer::Caller {
  std::string actor;  // "token:NAME", or who called without one
  std::vector<std::string> scopes;
  bool may(const std::string& scope) const { return std::find(scopes.begin(), scopes.end(), scope) != scopes.end(); }
};

}  // namespace topupd::app
