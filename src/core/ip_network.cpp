#include "topupd/core/ip_network.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace topupd::core {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string copy(text);  // inet_pton needs a terminated string
  IpAddress out;
  unsigned char v4[4];
  if (inet_pton(AF_INET, copy.c_str(), v4) == 1) {
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::memcpy(out.bytes.data() + 12, v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, copy.c_str(), out.bytes.data()) == 1) return out;
  return std::nullopt;
}

bool Cidr::contains(const IpAddress& address) const {
  int bits = prefix;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
    if ((address.bytes[i] & mask) != (network.bytes[i] & mask)) return false;
  }
  return true;
}

CidrParse parse_cidr(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  const auto address = parse_ip(host);
  if (!address) return {std::nullopt, "not an IP address or network; write 203.0.113.0/24 or 2001:db8::/32"};
  const bool v4 = host.find(':') == std::string_view::npos;
  const int width = v4 ? 32 : 128;
  int prefix = width;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return {std::nullopt, "the prefix length after '/' must be a number"};
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return {std::nullopt, "the prefix length after '/' must be a number"};
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > width) {
      return {std::nullopt, "the prefix length is longer than the address (at most " + std::to_string(width) + ")"};
    }
  }
  Cidr cidr{*address, prefix + (128 - width)};
  // Bits below the prefix must be zero.
  IpAddress masked = *address;
  int bits = cidr.prefix;
  for (auto& byte : masked.bytes) {
    const unsigned mask = bits >= 8 ? 0xffu : bits <= 0 ? 0u : (0xffu << (8 - bits)) & 0xffu;
    byte = static_cast<unsigned char>(byte & mask);
    bits -= 8;
  }
  if (!(masked == *address)) {
    return {std::nullopt, "host bits are set below the prefix length; write the network address"};
  }
  return {cidr, ""};
}

bool any_contains(const std::vector<Cidr>& networks, const IpAddress& address) {
  for (const auto& network : networks) {
    if (network.contains(address)) return true;
  }
  return false;
}

std::optional<IpAddress> client_address(const IpAddress& peer, const std::optional<std::string>& forwarded_for,
                                        const std::vector<Cidr>& trusted_proxies) {
  if (!forwarded_for || !any_contains(trusted_proxies, peer)) return peer;
  std::string_view chain = *forwarded_for;
  IpAddress client = peer;
  // Right to left: each hop was added by the proxy in front of it.
  while (true) {
    const auto comma = chain.rfind(',');
    const std::string_view hop = comma == std::string_view::npos ? chain : chain.substr(comma + 1);
    const auto address = parse_ip(hop);
    if (!address) return std::nullopt;
    client = *address;
    if (!any_contains(trusted_proxies, client) || comma == std::string_view::npos) return client;
    chain = chain.substr(0, comma);
  }
}

}  // namespace topupd::core
