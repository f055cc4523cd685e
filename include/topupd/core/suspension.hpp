// A rule that stops itself: consecutive failed top-ups of one rule, and when they
// suspend it.
//
// Each finished top-up of a rule is an outcome: a success clears the streak; a failure
// adds to it with a coded reason — insufficient_funds, declined, unauthorized,
// not_reflected (the gateway said succeeded, the balance never showed it),
// unknown_outcomes (the request's outcome was lost). At `suspend_after` failures in a
// row the rule is to be suspended: no top-up is planned until a person resumes it
// (`RuleInputs::suspended`). Pure: the caller keeps the streak and acts on the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topupd::core {

inline constexpr std::uint32_t kDefaultSuspendAfter = 3;

// The coded reason for a gateway's refusal `reason` (a provider's failure reason):
// insufficient_funds and unauthorized as they are, anything else a decline.
std::string failure_code(std::string_view reason);

struct FailureStreak {
  std::uint32_t count = 0;
  std::string code;        // the last failure's coded reason
  std::string last_error;  // ... and its words
};

// Records one outcome of the rule's top-ups: `failure` is nullopt for a success.
// Returns true when this failure makes the streak reach `suspend_after` (0: never).
bool record_outcome(FailureStreak& streak, const std::optional<std::string>& failure, const std::string& error,
                    std::uint32_t suspend_after);

}  // namespace topupd::core
