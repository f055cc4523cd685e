// IP addresses and CIDR networks for allow-lists: pure values, no sockets.
//
// Both IPv4 and IPv6 are held as 16 bytes; an IPv4 address (and an IPv4-mapped IPv6
// address such as ::ffff:192.0.2.1, which a dual-stack listener reports) is stored
// mapped, so "192.0.2.0/24" matches a client seen on either kind of socket.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace topupd::core {

struct IpAddress {
  std::array<unsigned char, 16> bytes{};
  bool operator==(const IpAddress&) const = default;
};

// "192.0.2.1", "2001:db8::1", "[2001:db8::1]", "::ffff:192.0.2.1"; nullopt otherwise.
std::optional<IpAddress> parse_ip(std::string_view text);

struct Cidr {
  IpAddress network;
  int prefix = 128;  // over the 16-byte form: an IPv4 /24 is stored as /120
  bool contains(const IpAddress& address) const;
  bool operator==(const Cidr&) const = default;
};

// "203.0.113.0/24", "2001:db8::/32", or a bare address (a single host). Host bits
// below the prefix must be zero ("10.0.0.1/8" is refused: it is almost always a typo).
// Returns an explanation on failure.
struct CidrParse {
  std::optional<Cidr> value;
  std::string error;
};
CidrParse parse_cidr(std::string_view text);

bool any_contains(const std::vector<Cidr>& networks, const IpAddress& address);

// The client behind a chain of proxies. `peer` is the socket's address; when it is a
// trusted proxy, X-Forwarded-For is read from the right and the first address that is
// not itself a trusted proxy is the client. Without trusted proxies the header is
// ignored (anyone can write it). nullopt when a trusted proxy sent a header that does
// not parse: such a request is refused rather than attributed to the proxy.
std::optional<IpAddress> client_address(const IpAddress& peer, const std::optional<std::string>& forwarded_for,
                                        const std::vector<Cidr>& trusted_proxies);

}  // namespace topupd::core
