// Ownership of accounts among instances: see core/ownership.hpp.
#include "topupd/core/ownership.hpp"

namespace topupd::core {
namespace {

std::uint64_t weight(std::string_view instance, std::string_view account) {
  std::uint64_t hash = 14695981039346656037ULL;
  auto mix = [&](std::string_view text) {
    for (const unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
  };
  mix(instance);
  mix(std::string_view("\0", 1));
  mix(account);
  // FNV-1a's low bits mix poorly for short, similar names: finish with a 64-bit mixer.
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

}  // namespace

std::string owner_of(std::string_view account, const std::vector<std::string>& instances) {
  std::string best;
  std::uint64_t best_weight = 0;
  for (const auto& instance : instances) {
    const std::uint64_t w = weight(instance, account);
    // Ties (never seen in practice) go to the smaller name, so every instance agrees.
    if (best.empty() || w > best_weight || (w == best_weight && instance < best)) {
      best = instance;
      best_weight = w;
    }
  }
  return best;
}

Duration lease_valid_for(Duration lease) { return lease - lease / 5; }

Duration lease_renew_every(Duration lease) { return lease / 3; }

}  // namespace topupd::core
