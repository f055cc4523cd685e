#include "topupd/adapters/sys/crash_points.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace topupd::adapters {

const char* const kCrashPoints[] = {
    "plan.before_write",      // the decision is made, nothing journalled yet
    "plan.after_write",       // journalled as planned, no request yet
    "send.before_submitted",  // about to journal 'submitted'
    "send.before_request",    // journalled 'submitted', the request not yet sent
    "send.after_response",    // the gateway answered, the answer not yet journalled
    "send.after_journal",     // the answer journalled
    "reconcile.before_look_up",
    "reconcile.after_look_up",  // the gateway's record read, not yet journalled
    "reconcile.before_resend",  // the gateway has no record; about to send again
    "transition.after_write",   // any journal transition, just after it is durable
    "webhook.after_persist",    // a webhook's event id is durable, the sender not yet answered
    "ticket.before_request",    // a deposit's ticket about to be asked for
    "ticket.after_response",    // the gateway issued (or refused) it, nothing journalled
    "ticket.after_journal",     // the ticket journalled, its payment not yet sent
    nullptr,
};

namespace {

struct Target {
  std::string name;
  long remaining = 0;
};

const Target* target() {
  static const Target* parsed = [] () -> const Target* {
    const char* value = std::getenv("TOPUPD_CRASH_AT");
    if (!value || !*value) return nullptr;
    auto* t = new Target;  // lives for the whole process
    const std::string text(value);
    const auto colon = text.find(':');
    t->name = text.substr(0, colon);
    t->remaining = colon == std::string::npos ? 1 : std::strtol(text.c_str() + colon + 1, nullptr, 10);
    if (t->remaining < 1) t->remaining = 1;
    return t;
  }();
  return parsed;
}

}  // namespace

void crash_point(const char* name) {
  const Target* t = target();
  if (!t || t->name != name) return;
  if (--const_cast<Target*>(t)->remaining > 0) return;
  // No cleanup, no flush: exactly what a kill -9 would do.
  ::kill(::getpid(), SIGKILL);
}

}  // namespace topupd::adapters
