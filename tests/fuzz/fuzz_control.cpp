// Fuzzes the lines topupctl sends over the control socket (src/app/control_request.cpp):
// any line is a typed request or a refusal with a message, never a crash; what is
// accepted holds what the daemon relies on — names that are valid, scopes known and
// each once, passwords long enough, a top-up state that exists, an audit limit within
// its bound, no word that contains a space.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "control_request.hpp"

namespace {

using namespace topupd::app::ctl;

void check(bool holds) {
  if (!holds) std::abort();
}

bool one_word(const std::string& word) {
  return !word.empty() && std::none_of(word.begin(), word.end(), [](unsigned char c) { return std::isspace(c); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  const Parsed parsed = parse(line);
  if (!parsed.request) {
    check(!parsed.refused.empty());
    return 0;
  }
  check(parsed.refused.empty());
  std::visit(
      [](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, History>) {
          check(!r.account || one_word(*r.account));
          check(!r.rule || one_word(*r.rule));
        } else if constexpr (std::is_same_v<T, Decide>) {
          check(one_word(r.key));
        } else if constexpr (std::is_same_v<T, ResumeRule>) {
          check(one_word(r.rule));
        } else if constexpr (std::is_same_v<T, Silence>) {
          check(one_word(r.target) && one_word(r.duration));
        } else if constexpr (std::is_same_v<T, Unsilence>) {
          check(one_word(r.target));
        } else if constexpr (std::is_same_v<T, TokenAdd>) {
          check(valid_token_name(r.name) && !r.scopes.empty());
          for (const auto& scope : r.scopes) {
            check(scope == "read" || scope == "demands");
            check(std::count(r.scopes.begin(), r.scopes.end(), scope) == 1);
          }
        } else if constexpr (std::is_same_v<T, TokenRevoke>) {
          check(one_word(r.name));
        } else if constexpr (std::is_same_v<T, UserAdd>) {
          check(topupd::core::valid_user_name(r.name) && r.password.size() >= topupd::core::kMinPasswordLength);
          check(topupd::core::role_from(r.role_text) == r.role);
        } else if constexpr (std::is_same_v<T, UserPasswd>) {
          check(topupd::core::valid_user_name(r.name) && r.password.size() >= topupd::core::kMinPasswordLength);
        } else if constexpr (std::is_same_v<T, UserRole>) {
          check(topupd::core::valid_user_name(r.name) && topupd::core::role_from(r.role_text) == r.role);
        } else if constexpr (std::is_same_v<T, UserRemove> || std::is_same_v<T, UserTotp>) {
          check(topupd::core::valid_user_name(r.name));
        } else if constexpr (std::is_same_v<T, Audit>) {
          check(r.limit <= kMaxAuditLimit);
        }
      },
      *parsed.request);
  return 0;
}
