#include "topupd/adapters/sys/process_figures.hpp"

#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>

#if defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime's allocator interface (GCC ships no header for it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace topupd::adapters {
namespace {

[[maybe_unused]] constexpr std::chrono::seconds kHeapEvery{10};

std::int64_t resident_bytes() {
  std::FILE* status = std::fopen("/proc/self/status", "re");
  if (!status) return 0;
  char line[256];
  long kib = 0;
  while (std::fgets(line, sizeof(line), status)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      std::sscanf(line + 6, "%ld", &kib);
      break;
    }
  }
  std::fclose(status);
  return static_cast<std::int64_t>(kib) * 1024;
}

std::int64_t open_fds() {
  DIR* fds = opendir("/proc/self/fd");
  if (!fds) return 0;
  std::int64_t n = 0;
  while (const dirent* entry = readdir(fds)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(fds);
  return n - 1;  // the directory stream's own descriptor
}

std::int64_t heap_in_use() {
#if defined(__SANITIZE_ADDRESS__)
  // ASan replaces malloc; its own count of live allocations.
  return static_cast<std::int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  // glibc: bytes in chunks handed out from the arenas plus those mapped on their own.
  // mallinfo2 walks every free chunk of every arena holding the arena's lock — some
  // milliseconds at 10,000 accounts, while the event loop's allocations wait — so it is
  // read at most every kHeapEvery and the scrapes between see that reading.
  static std::mutex mutex;
  static std::chrono::steady_clock::time_point read_at;
  static std::int64_t bytes = -1;
  std::lock_guard lock(mutex);
  const auto now = std::chrono::steady_clock::now();
  if (bytes < 0 || now - read_at >= kHeapEvery) {
    const struct mallinfo2 info = mallinfo2();
    bytes = static_cast<std::int64_t>(info.uordblks + info.hblkhd);
    read_at = now;
  }
  return bytes;
#endif
}

}  // namespace

ProcessFigures read_process_figures() {
  ProcessFigures f;
  f.resident_bytes = resident_bytes();
  f.open_fds = open_fds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) f.max_fds = static_cast<std::int64_t>(limit.rlim_cur);
  f.heap_in_use_bytes = heap_in_use();
  return f;
}

std::string process_metrics_text(const ProcessFigures& figures) {
  std::string out;
  auto gauge = [&out](const char* name, const char* help, std::int64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
           std::to_string(value) + "\n";
  };
  gauge("process_resident_memory_bytes", "Resident memory size in bytes", figures.resident_bytes);
  gauge("process_open_fds", "Number of open file descriptors", figures.open_fds);
  gauge("process_max_fds", "Maximum number of open file descriptors", figures.max_fds);
  gauge("topupd_heap_in_use_bytes",
        "Heap memory allocated and not freed, as the allocator counts it (read at most every 10 s); resident memory "
        "above it is kept by the allocator or mapped files",
        figures.heap_in_use_bytes);
  return out;
}

}  // namespace topupd::adapters
