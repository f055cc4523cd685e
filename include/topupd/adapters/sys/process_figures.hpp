// What this process holds right now, read from /proc/self and the allocator: resident
// memory, open descriptors and the heap in use. Exported on /metrics at each scrape so
// that a slow leak shows as a line that climbs, and so that memory the daemon holds can
// be told apart from memory the allocator keeps after it was freed.
#pragma once

#include <cstdint>
#include <string>

namespace topupd::adapters {

struct ProcessFigures {
  std::int64_t resident_bytes = 0;     // VmRSS
  std::int64_t open_fds = 0;           // entries of /proc/self/fd
  std::int64_t max_fds = 0;            // RLIMIT_NOFILE's soft limit
  std::int64_t heap_in_use_bytes = 0;  // allocated and not freed, as the allocator counts (at most 10 s old)
};

ProcessFigures read_process_figures();

// The figures in the Prometheus text format: process_resident_memory_bytes,
// process_open_fds and process_max_fds as the client libraries name them, and
// topupd_heap_in_use_bytes.
std::string process_metrics_text(const ProcessFigures& figures);

}  // namespace topupd::adapters
