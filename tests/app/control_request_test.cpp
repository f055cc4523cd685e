// topupctl's request lines as the daemon reads them (src/app/control_request.cpp).
#include "control_request.hpp"

#include <gtest/gtest.h>

namespace topupd::app::ctl {
namespace {

template <typename T>
T parsed_as(const std::string& line) {
  const Parsed p = parse(line);
  EXPECT_TRUE(p.request) << line << ": " << p.refused;
  EXPECT_TRUE(p.request && std::holds_alternative<T>(*p.request)) << line;
  return p.request && std::holds_alternative<T>(*p.request) ? std::get<T>(*p.request) : T{};
}

std::string refusal(const std::string& line) {
  const Parsed p = parse(line);
  EXPECT_FALSE(p.request) << line;
  return p.refused;
}

TEST(ControlRequest, ReadsEachCommandIntoItsRequest) {
  parsed_as<Status>("status");
  parsed_as<Tickets>("tickets\n");
  EXPECT_TRUE(parsed_as<Decide>("approve k-1").approve);
  EXPECT_EQ(parsed_as<Decide>("reject  k-2").key, "k-2");
  EXPECT_FALSE(parsed_as<Pause>("resume").pause);
  EXPECT_EQ(parsed_as<ResumeRule>("resume-rule keep-funded").rule, "keep-funded");
  const auto silence = parsed_as<Silence>("ack payout 2h bank   holiday");
  EXPECT_TRUE(silence.ack);
  EXPECT_EQ(silence.target, "payout");
  EXPECT_EQ(silence.duration, "2h");
  EXPECT_EQ(silence.reason, "bank holiday");
  EXPECT_EQ(parsed_as<Unsilence>("unsilence payout").target, "payout");
}

TEST(ControlRequest, HistoryFiltersAreKnownPairs) {
  const auto h = parsed_as<History>("history account payout state succeeded since 2026-12-01T07:00:00+07:00");
  EXPECT_EQ(h.account, "payout");
  EXPECT_FALSE(h.rule);
  EXPECT_EQ(h.state, core::TopUpState::succeeded);
  EXPECT_EQ(core::format_rfc3339(h.since), "2026-12-01T00:00:00.000Z");
  EXPECT_EQ(parsed_as<History>("history").since, core::Timestamp{});
  EXPECT_NE(refusal("history account").find("pairs"), std::string::npos);
  EXPECT_NE(refusal("history colour blue").find("pairs"), std::string::npos);
  EXPECT_EQ(refusal("history state done"), "'done' is not a top-up state");
  EXPECT_EQ(refusal("history since yesterday"), "since needs an RFC 3339 time with an offset");
}

TEST(ControlRequest, TokensHaveValidNamesAndKnownScopesOnce) {
  const auto add = parsed_as<TokenAdd>("token add ci-bot read demands read");
  EXPECT_EQ(add.name, "ci-bot");
  EXPECT_EQ(add.scopes, (std::vector<std::string>{"read", "demands"}));
  EXPECT_EQ(refusal("token add ci/bot read"), "a token's name is 1 to 64 letters, digits and - _ .");
  EXPECT_EQ(refusal("token add " + std::string(65, 'a') + " read"), "a token's name is 1 to 64 letters, digits and - _ .");
  EXPECT_EQ(refusal("token add ci-bot write"), "unknown scope write; expected read or demands");
  EXPECT_EQ(refusal("token add ci-bot"), "token takes: add NAME SCOPE…, list, or revoke NAME");
  EXPECT_EQ(parsed_as<TokenRevoke>("token revoke ci-bot").name, "ci-bot");
  parsed_as<TokenList>("token list");
  EXPECT_EQ(refusal("token list all"), "token takes: add NAME SCOPE…, list, or revoke NAME");
}

TEST(ControlRequest, UsersArriveWithAHexPasswordOfTheLeastLength) {
  const auto add = parsed_as<UserAdd>("user add ana approver 636f7272656374686f727365");  // "correcthorse"
  EXPECT_EQ(add.name, "ana");
  EXPECT_EQ(add.role, core::Role::approver);
  EXPECT_EQ(add.password, "correcthorse");
  EXPECT_EQ(refusal("user add ana approver 73686f7274"), "a password has at least 10 characters");  // "short"
  EXPECT_EQ(refusal("user add ana approver correcthorse"), "a password has at least 10 characters");  // not hex
  EXPECT_EQ(refusal("user add ana owner 636f7272656374686f727365"), "the role is viewer, approver or admin");
  EXPECT_EQ(refusal("user add an@/a viewer 636f7272656374686f727365"),
            "a user's name is 1 to 64 letters, digits and - _ . @");
  EXPECT_EQ(parsed_as<UserPasswd>("user passwd ana 636f7272656374686f727365").password, "correcthorse");
  EXPECT_EQ(parsed_as<UserRole>("user role ana admin").role, core::Role::admin);
  EXPECT_EQ(parsed_as<UserRemove>("user remove ana").name, "ana");
  EXPECT_EQ(parsed_as<UserTotp>("user totp ana").name, "ana");
  parsed_as<UserList>("user list");
  EXPECT_NE(refusal("user passwd ana").find("user add NAME ROLE PASSWORD_HEX"), std::string::npos);
  EXPECT_NE(refusal("user").find("user needs"), std::string::npos);
}

TEST(ControlRequest, AuditTakesPairsAndALimitWithinItsBound) {
  const auto a = parsed_as<Audit>("audit since 2026-12-01T00:00:00Z limit 50");
  EXPECT_EQ(a.limit, 50u);
  EXPECT_EQ(core::format_rfc3339(a.since), "2026-12-01T00:00:00.000Z");
  EXPECT_EQ(parsed_as<Audit>("audit").limit, 1000u);
  EXPECT_EQ(parsed_as<Audit>("audit limit 999999999999999999999999").limit, kMaxAuditLimit);
  EXPECT_EQ(refusal("audit limit -1"), "limit is a number");
  EXPECT_EQ(refusal("audit limit 12abc"), "limit is a number");
  EXPECT_EQ(refusal("audit limit"), "audit takes: since TIME, limit N");
  EXPECT_EQ(refusal("audit by ana"), "audit takes: since TIME, limit N");
}

TEST(ControlRequest, MissingWordsAndUnknownCommandsAreRefusedWithWhatIsExpected) {
  EXPECT_EQ(refusal("approve"), "approve needs a top-up key");
  EXPECT_EQ(refusal("silence payout"), "silence needs a rule or account and a duration");
  EXPECT_EQ(refusal("unsilence a b"), "unsilence needs a rule or account");
  EXPECT_EQ(refusal("resume-rule"), "resume-rule takes the rule's name");
  EXPECT_NE(refusal("").find("unknown command ''"), std::string::npos);
  EXPECT_NE(refusal("launch missiles").find("expected status, history"), std::string::npos);
}

}  // namespace
}  // namespace topupd::app::ctl
