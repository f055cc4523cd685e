#include "topupd/adapters/sys/logging.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "topupd/core/time.hpp"

namespace topupd::adapters {
namespace {

class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  StderrSink()
      : journal_(std::getenv("JOURNAL_STREAM") != nullptr),
        colour_(!journal_ && ::isatty(STDERR_FILENO) == 1) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line;
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (journal_) {
      line = fmt::format("<{}>{}\n", priority(msg.level), text);
    } else {
      const auto at = std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time);
      const char* start = colour_ ? colour(msg.level) : "";
      const char* end = colour_ ? "\033[0m" : "";
      line = fmt::format("{} {}{:<5}{} {}\n", core::format_rfc3339(core::Timestamp(at.time_since_epoch())),
                         start, name(msg.level), end, text);
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  // sd-daemon(3) priorities.
  static int priority(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::critical: return 2;
      case spdlog::level::err: return 3;
      case spdlog::level::warn: return 4;
      case spdlog::level::info: return 6;
      default: return 7;
    }
  }
  static const char* name(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::trace: return "TRACE";
      case spdlog::level::debug: return "DEBUG";
      case spdlog::level::info: return "INFO";
      case spdlog::level::warn: return "WARN";
      case spdlog::level::err: return "ERROR";
      case spdlog::level::critical: return "CRIT";
      default: return "";
    }
  }
  static const char* colour(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::warn: return "\033[33m";
      case spdlog::level::err:
      case spdlog::level::critical: return "\033[31;1m";
      case spdlog::level::info: return "\033[32m";
      default: return "\033[2m";
    }
  }

  bool journal_;
  bool colour_;
};

}  // namespace

void init_logging() {
  auto logger = std::make_shared<spdlog::logger>("topupd", std::make_shared<StderrSink>());
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void set_log_level(std::string_view level) {
  if (level == "off") {
    spdlog::set_level(spdlog::level::off);
    return;
  }
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for names it does not know.
  if (parsed != spdlog::level::off) spdlog::set_level(parsed);
}

std::string field(std::string_view value) {
  const bool plain = !value.empty() && value.find_first_of(" \"=\\\t\n") == std::string_view::npos;
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace topupd::adapters
