// A completion handler for co_spawn: a coroutine that ends with an exception is
// logged with what it was doing, never dropped silently.
#pragma once

#include <exception>
#include <string>

#include <spdlog/spdlog.h>

namespace topupd::adapters {

inline auto log_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("{} failed: {}", what, e.what());
    } catch (...) {
      spdlog::error("{} failed with an unknown exception", what);
    }
  };
}

}  // namespace topupd::adapters
