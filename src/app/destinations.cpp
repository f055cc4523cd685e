// The pinned destinations file, read at start (see destinations.hpp).
#include "destinations.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"

namespace topupd::app {

PinnedRead read_pinned_destinations(const config::Config& config) {
  PinnedRead out;
  const std::string& path = config.destinations_path;
  const auto problem = [&](std::string message) {
    out.diagnostics.push_back({path, {}, "", std::move(message)});
    return out;
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT && !config.destinations_named) return out;  // the default file is optional
    return problem(fmt::format("cannot read the pinned destinations file: {}", std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode)) return problem("the pinned destinations file is not a regular file");
  // Root's, writable by nobody else — and, for a service running as its own user, not
  // writable by it through any other way (an ACL).
  const bool others_write = (info.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  const bool service_writes = ::geteuid() != 0 && ::access(path.c_str(), W_OK) == 0;
  if (info.st_uid != 0 || others_write || service_writes) {
    return problem(fmt::format("the pinned destinations file can be changed by the service (mode {:o}, owner uid {}): "
                               "make it root's and writable by root alone (chown root:root; chmod 0644)",
                               info.st_mode & 07777, info.st_uid));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return problem(fmt::format("cannot read the pinned destinations file: {}", std::strerror(errno)));
  auto loaded = config::load_destinations_string(text.str(), path);
  if (!loaded.pins) {
    out.diagnostics = std::move(loaded.diagnostics);
    return out;
  }
  out.pinned = PinnedDestinations{path, adapters::crypto::hex(adapters::crypto::sha256(text.str())),
                                  std::move(*loaded.pins)};
  return out;
}

PinnedRead pin_and_check(const config::Config& config) {
  PinnedRead read = read_pinned_destinations(config);
  if (read.pinned) {
    for (auto& problem : config::check_destinations(config, read.pinned->pins, read.pinned->path)) {
      read.diagnostics.push_back(std::move(problem));
    }
  }
  return read;
}

}  // namespace topupd::app
