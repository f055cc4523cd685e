// How a call to a gateway failed, classified once where the failure is seen.
#pragma once

#include <string>

namespace topupd::adapters {

// retryable: nothing happened at the other end; safe to try again.
// not_retryable: the other end refused; trying again will not help.
// outcome_unknown: the request may have been executed; look it up before anything else.
enum class FailureKind { retryable, not_retryable, outcome_unknown };

const char* to_string(FailureKind kind);

}  // namespace topupd::adapters
