// Fuzzes the webhook receiver from raw bytes: the HTTP request parser the server uses
// (Beast's, with the server's limits), then the receiver's checks for every provider
// type, the allow-lists and X-Forwarded-For. Nothing may crash or read out of bounds,
// and no delivery to an endpoint whose secret never appears in the input may be
// accepted by a MAC- or signature-checked scheme.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "topupd/adapters/webhooks/receiver.hpp"

namespace {

using namespace topupd;
namespace http = boost::beast::http;

adapters::webhooks::Routes make_routes() {
  adapters::webhooks::Routes routes;
  const char* types[] = {"stripe", "snap", "midtrans_iris", "generic_http", "xendit", "flip"};
  for (const char* type : types) {
    adapters::webhooks::Endpoint endpoint;
    endpoint.provider = type;
    endpoint.type = *config::provider_type_named(type);
    endpoint.secret = "fuzz-secret-never-in-the-input";
    if (std::string(type) == "generic_http") endpoint.generic.timestamp_header = "X-Timestamp";
    if (std::string(type) == "flip") endpoint.allow_from = {*core::parse_cidr("127.0.0.0/8").value};
    routes.endpoints.push_back(endpoint);
  }
  routes.trusted_proxies = {*core::parse_cidr("10.0.0.0/8").value, *core::parse_cidr("::1").value};
  routes.snap_prefix = "/snap";
  return routes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const adapters::webhooks::Routes routes = make_routes();
  if (size < 1) return 0;
  // The first byte picks the peer; the rest is what arrived on the socket.
  const char* peers[] = {"127.0.0.1", "10.0.0.7", "::1", "198.51.100.4"};
  const std::string peer = peers[data[0] % 4];
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.header_limit(64 * 1024);
  parser.body_limit(64 * 1024);
  boost::system::error_code error;
  parser.put(boost::asio::buffer(data + 1, size - 1), error);
  if (error || !parser.is_done()) return 0;
  const auto& raw = parser.get();
  adapters::net::ServerRequest request;
  request.method = std::string(raw.method_string());
  request.target = std::string(raw.target());
  request.path = request.target.substr(0, request.target.find('?'));
  for (const auto& field : raw) request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  request.body = raw.body();
  request.remote_address = peer;
  const auto now = core::Timestamp(std::chrono::seconds(1700000000));
  const auto delivery = adapters::webhooks::check_delivery(routes, request, now);
  if (delivery.outcome == adapters::webhooks::Outcome::accepted) {
    const config::ProviderType type = delivery.endpoint->type;
    if (type != config::ProviderType::xendit && type != config::ProviderType::flip) std::abort();  // a MAC or signature was forged
  }
  (void)adapters::webhooks::answer(delivery);
  (void)adapters::webhooks::too_large(routes, request.path);
  (void)core::client_address(*core::parse_ip(peer), request.header("X-Forwarded-For"), routes.trusted_proxies);
  for (const auto& [name, value] : request.headers) (void)core::parse_cidr(value);
  return 0;
}
