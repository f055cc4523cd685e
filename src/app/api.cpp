// The backend's API: see api.hpp.
#include "api.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api_http.hpp"
#include "records_json.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

namespace net = adapters::net;
using adapters::field;
using adapters::json_string;
using net::ServerRequest;
using net::ServerResponse;
using api_http::answer;
using api_http::demand_json;
using api_http::error;
using api_http::query_of;

namespace {

constexpr std::string_view kPrefix = "/api/v1/";
constexpr std::size_t kMaxPage = 500;
constexpr std::size_t kDefaultPage = 100;
// What the store keeps: the audit log for a little over a year, demands for a month
// after they were due (for questions about a payout), then forgotten.
constexpr auto kKeepAuditFor = std::chrono::hours(24 * 400);
constexpr auto kKeepPastDemandsFor = std::chrono::hours(24 * 30);

// The endpoint a path names, as the metric labels it.
std::string_view endpoint_of(const std::string& path) {
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return "other";
  const std::string_view rest = std::string_view(path).substr(kPrefix.size());
  const auto slash = rest.find('/');
  const std::string_view collection = rest.substr(0, slash);
  const bool item = slash != std::string_view::npos;
  if (collection == "accounts" && !item) return "accounts";
  if (collection == "top-ups") return item ? "top_up" : "top_ups";
  if (collection == "demands") return item ? "demand" : "demands";
  return "other";
}

std::string_view outcome_of(int status) {
  if (status < 400) return "ok";
  if (status == 401) return "unauthorized";
  if (status == 403) return "forbidden";
  if (status >= 500) return "unavailable";
  return "refused";
}

// A page's position in the journal's order (created, then key), opaque to callers.
std::string cursor_of(const core::TopUpRecord& r) {
  return fmt::format("{}.{}", r.created_at.time_since_epoch().count(), adapters::crypto::hex(r.key));
}
bool after_cursor(const core::TopUpRecord& r, const std::pair<std::int64_t, std::string>& cursor) {
  const std::int64_t created = r.created_at.time_since_epoch().count();
  return created > cursor.first || (created == cursor.first && r.key > cursor.second);
}
std::optional<std::pair<std::int64_t, std::string>> parse_cursor(const std::string& text) {
  const auto dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot > 19) return std::nullopt;
  std::int64_t created = 0;
  for (std::size_t i = 0; i < dot; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    created = created * 10 + (text[i] - '0');
  }
  auto key = adapters::crypto::unhex(text.substr(dot + 1));
  if (!key) return std::nullopt;
  return std::pair(created, *key);
}

}  // namespace

std::string new_api_token() { return "tpd_" + adapters::crypto::hex(adapters::crypto::random_bytes(32)); }
std::string api_token_hash(const std::string& token) { return adapters::crypto::hex(adapters::crypto::sha256(token)); }

ApiServer::ApiServer(boost::asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics,
                     adapters::Store& store, ApiNeighbours neighbours)
    : io_(io), clock_(clock), metrics_(metrics), store_(store), neighbours_(std::move(neighbours)) {}

ApiServer::~ApiServer() { stop(); }

void ApiServer::stop() {
  if (server_) server_->stop();
}

std::string ApiServer::listen(const config::ApiConfig& config) {
  net::ServerOptions options;
  options.tls_cert_file = config.tls_cert;
  options.tls_key_file = config.tls_key;
  options.max_body_bytes = config.max_body;
  options.request_timeout = config.timeout;
  options.max_connections = config.max_connections;
  options.on_too_large = [this](const ServerRequest& request) {
    // Audited like any call, before anything else is looked at.
    ServerResponse refused = error(413, "the body is larger than api.max_body");
    metrics_.count_api_request(endpoint_of(request.path), outcome_of(413));
    try {
      store_.api().audit({clock_.now(), "unchecked " + request.remote_address, request.method + " " + request.path,
                          "413"});
    } catch (const adapters::StoreError& e) {
      spdlog::error("cannot write the API's audit log: {}", e.what());
    }
    return refused;
  };
  auto server = std::make_unique<net::Server>(io_, std::move(options),
                                              net::Handler([this](const ServerRequest& request) { return handle(request); }));
  const std::string address = server->listen(config.host, config.port);
  server_ = std::move(server);
  metrics_.api_serving();
  spdlog::info("serving the API address={} tls={}", address, config.tls_cert.empty() ? "off" : "on");
  return address;
}

ServerResponse ApiServer::handle(const ServerRequest& request) {
  Caller caller{"anonymous " + request.remote_address, {}};
  ServerResponse response;
  try {
    response = route(request, caller);
    std::string detail = std::to_string(response.status);
    if (!request.query.empty()) detail += " ?" + request.query.substr(0, 200);
    const core::Timestamp now = clock_.now();
    store_.api().audit({now, caller.actor, request.method + " " + request.path.substr(0, 200), detail});
    if (now - pruned_at_ >= std::chrono::hours(1)) {
      pruned_at_ = now;
      const auto audits = store_.api().forget_audit(now - kKeepAuditFor);
      const auto demands = store_.api().forget_demands(now - kKeepPastDemandsFor);
      if (audits + demands > 0) spdlog::info("forgot old API audit entries={} demands={}", audits, demands);
    }
  } catch (const adapters::StoreError& e) {
    // Nothing is answered that could not be audited.
    metrics_.count_store_error("api");
    metrics_.count_api_request(endpoint_of(request.path), outcome_of(503));
    spdlog::error("API call not served: the store failed: {} path={}", e.what(), field(request.path));
    return error(503, "the store is unavailable; try again later");
  }
  metrics_.count_api_request(endpoint_of(request.path), outcome_of(response.status));
  return response;
}

ServerResponse ApiServer::route(const ServerRequest& request, Caller& caller) {
  if (request.path.compare(0, kPrefix.size(), kPrefix) != 0) return error(404, "no such endpoint; the API is under /api/v1/");
  // Who is asking: a bearer token, checked before anything else is looked at.
  const auto authorization = request.header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization || authorization->compare(0, kBearer.size(), kBearer) != 0 ||
      authorization->size() > kBearer.size() + 256) {
    ServerResponse r = error(401, "a bearer token is needed (Authorization: Bearer tpd_…)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  const auto token = store_.api().use_token(api_token_hash(authorization->substr(kBearer.size())), clock_.now());
  if (!token) {
    ServerResponse r = error(401, "the token is unknown or revoked");
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return r;
  }
  caller.actor = "token:" + token->name;
  caller.scopes = token->scopes;

  const std::string rest = request.path.substr(kPrefix.size());
  const auto slash = rest.find('/');
  const std::string collection = rest.substr(0, slash);
  const std::string item = slash == std::string::npos ? "" : rest.substr(slash + 1);
  const bool get = request.method == "GET";
  auto method_not_allowed = [](const char* allow) {
    ServerResponse r = error(405, std::string("allowed here: ") + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  auto needs = [](const char* scope) { return error(403, fmt::format("this token lacks the {} scope", scope)); };

  if (collection == "accounts" && slash == std::string::npos) {
    if (!get) return method_not_allowed("GET");
    if (!caller.may("read")) return needs("read");
    return answer(200, fmt::format("{{\"accounts\":{}}}", neighbours_.accounts_json()));
  }
  if (collection == "top-ups") {
    if (!get) return method_not_allowed("GET");
    if (!caller.may("read")) return needs("read");
    if (slash == std::string::npos) return top_ups(request);
    if (item.empty() || item.find('/') != std::string::npos) return error(404, "no such endpoint");
    return top_up(item);
  }
  if (collection == "demands") {
    if (slash == std::string::npos) {
      if (request.method == "POST") {
        if (!caller.may("demands")) return needs("demands");
        return post_demand(request, caller);
      }
      if (!get) return method_not_allowed("GET, POST");
      if (!caller.may("read") && !caller.may("demands")) return needs("read");
      return demands(request);
    }
    if (item.empty() || item.find('/') != std::string::npos) return error(404, "no such endpoint");
    if (get) {
      if (!caller.may("read") && !caller.may("demands")) return needs("read");
      const auto found = store_.api().demand(item);
      if (!found) return error(404, fmt::format("no demand has the reference {}", item));
      return answer(200, demand_json(*found));
    }
    if (request.method == "DELETE") {
      if (!caller.may("demands")) return needs("demands");
      const auto found = store_.api().demand(item);
      if (!found || !store_.api().remove_demand(item)) {
        return error(404, fmt::format("no demand has the reference {}", item));
      }
      spdlog::info("demand withdrawn reference={} account={} by={}", field(item), field(found->account),
                   field(caller.actor));
      if (neighbours_.demands_changed) neighbours_.demands_changed(found->account);
      ServerResponse gone;
      gone.status = 204;
      gone.headers.emplace_back("Cache-Control", "no-store");
      return gone;
    }
    return method_not_allowed("GET, DELETE");
  }
  return error(404, "no such endpoint; see the API's OpenAPI document");
}

ServerResponse ApiServer::top_ups(const ServerRequest& request) {
  std::string bad;
  const auto query = query_of(request, {"account", "rule", "state", "since", "limit", "cursor"}, bad);
  if (!query) return error(400, fmt::format("unknown query parameter {}", bad));
  const auto param = [&](const char* name) -> const std::string* {
    const auto it = query->find(name);
    return it == query->end() ? nullptr : &it->second;
  };
  core::Timestamp since{};
  if (const auto* text = param("since")) {
    const auto parsed = core::parse_rfc3339(*text);
    if (!parsed) return error(400, "since needs an RFC 3339 time with an offset, e.g. 2026-12-01T00:00:00+07:00");
    since = *parsed;
  }
  std::size_t limit = kDefaultPage;
  if (const auto* text = param("limit")) {
    const bool digits = !text->empty() && text->size() <= 4 &&
                        std::all_of(text->begin(), text->end(), [](unsigned char c) { return std::isdigit(c); });
    limit = digits ? std::stoul(*text) : 0;
    if (limit < 1 || limit > kMaxPage) return error(400, fmt::format("limit is a number from 1 to {}", kMaxPage));
  }
  std::optional<std::pair<std::int64_t, std::string>> cursor;
  if (const auto* text = param("cursor")) {
    cursor = parse_cursor(*text);
    if (!cursor) return error(400, "cursor is not one this API gave out");
  }
  if (const auto* state = param("state"); state && !core::top_up_state_from(*state)) {
    return error(400, fmt::format("state {} is not a top-up state", *state));
  }
  auto records = store_.top_ups_created_since(since);
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.key < b.key;
  });
  std::string out;
  std::size_t count = 0;
  std::string next = "null";
  for (const auto& record : records) {
    if (const auto* account = param("account"); account && record.account != *account) continue;
    if (const auto* rule = param("rule"); rule && record.rule != *rule) continue;
    if (const auto* state = param("state"); state && core::to_string(record.state) != *state) continue;
    if (cursor && !after_cursor(record, *cursor)) continue;
    if (count == limit) {
      next = json_string(cursor_of(*(&record - 1)));  // more follow: go on after the last one given
      break;
    }
    out += (out.empty() ? "" : ",") + json_of(record);
    ++count;
  }
  return answer(200, fmt::format("{{\"top_ups\":[{}],\"next_cursor\":{}}}", out, next));
}

ServerResponse ApiServer::top_up(const std::string& key) {
  for (const auto& record : store_.top_ups_created_since(core::Timestamp{})) {
    if (record.key != key) continue;
    std::string transitions;
    for (const auto& t : store_.transitions(key)) {
      transitions += fmt::format("{}{{\"from\":{},\"to\":{},\"at\":{},\"note\":{}}}", transitions.empty() ? "" : ",",
                                 t.from ? json_string(core::to_string(*t.from)) : "null",
                                 json_string(core::to_string(t.to)), json_string(core::format_rfc3339(t.at)),
                                 json_string(t.note));
    }
    std::string body = json_of(record);
    body.pop_back();  // the object goes on with its history
    return answer(200, body + ",\"transitions\":[" + transitions + "]}");
  }
  return error(404, fmt::format("no top-up has the key {}", key));
}

}  // namespace topupd::app
