// Which instance owns which account, when several topupd share one store.
//
// Every instance computes the same answer from the same list of live instances:
// rendezvous (highest random weight) hashing gives each account to the instance whose
// hash with it is highest. Accounts spread evenly, and when an instance joins or leaves
// only the accounts it gains or held move — about 1/N of them, never a reshuffle. The
// hash is FNV-1a, fixed here, so instances of different builds agree. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "topupd/core/time.hpp"

namespace topupd::core {

// The instance among `instances` that should own `account`; empty when there is none.
std::string owner_of(std::string_view account, const std::vector<std::string>& instances);

// How long an instance may go on acting on a lease it renewed: the lease's time, less a
// margin for the two clocks' rates (the store's server counts the expiry, this host
// counts from before it asked), counted from when the renewal was sent.
Duration lease_valid_for(Duration lease);

// How often an instance renews its leases and says it is alive: a third of the lease, so
// two renewals may fail before one runs out.
Duration lease_renew_every(Duration lease);

}  // namespace topupd::core
