// Owns: choosing a loopback port for a peer that must be told its port before it starts.
#pragma once

namespace topupd::testing {

// A loopback TCP port nobody is bound to right now, taken from outside the kernel's
// ephemeral range (net.ipv4.ip_local_port_range). The kernel hands ports from that range
// to every outgoing connection and to every bind on port 0, so a port picked there could
// be taken by some other socket between this call and the peer's bind; outside it, only
// another caller of this function choosing the same port could take it.
int free_port();

}  // namespace topupd::testing
