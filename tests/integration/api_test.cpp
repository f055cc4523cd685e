// The backend's API against the real daemon: bearer tokens made with topupctl (scopes,
// revocation), the accounts and the journal read with paging, demands announced
// idempotently, every bad request answered with a clear 4xx that changes nothing, and
// every call in the audit log — all surviving a restart.
#include <csignal>
#include <regex>

#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/store/store.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kSource = TOPUPD_SOURCE_DIR;

// Every answer the API gave, to be checked against its OpenAPI document at the end.
struct Sample {
  std::string method, path;
  int status;
  std::string body;
};
std::vector<Sample> answers;

class ApiDaemon : public Daemon {
 public:
  explicit ApiDaemon(const TempDir& state) : Daemon(config(state)), socket_(state.file("control.sock")) {
    EXPECT_TRUE(wait_ready()) << log();
  }
  ~ApiDaemon() { stop(); }
  void stop() {
    process().signal(SIGTERM);
    process().wait(5s);
  }
  CommandResult ctl(const std::vector<std::string>& args) const { return topupctl(socket_, args); }

  HttpResult call(const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body = "", const std::string& type = "application/json") const {
    Headers headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty()) headers.emplace_back("Content-Type", type);
    const auto result = http_request(method, "127.0.0.1", api_port(), path, body, headers);
    answers.push_back({method, path.substr(0, path.find('?')), result.status, result.body});
    return result;
  }

 private:
  static std::string config(const TempDir& state) {
    PayoutScenario scenario;
    scenario.store = state.file("topupd.db");
    scenario.control = state.file("control.sock");
    scenario.log_level = "info";
    scenario.drain_per_minute = "IDR 1_200_000";  // below the threshold again within seconds of each top-up
    return "api: {listen: 127.0.0.1:0, max_body: 2KiB}\n" + payout_config(scenario);
  }
  std::string socket_;
};

std::string new_token(const ApiDaemon& daemon, const std::vector<std::string>& args) {
  const auto added = daemon.ctl(args);
  EXPECT_EQ(added.status, 0) << added.output;
  std::smatch match;
  if (!std::regex_search(added.output, match, std::regex(R"(tpd_[0-9a-f]{64})"))) return "";
  return match[0];
}

std::string due_tomorrow() {
  const auto tomorrow = std::chrono::system_clock::now() + std::chrono::hours(24);
  return core::format_rfc3339(std::chrono::time_point_cast<std::chrono::milliseconds>(tomorrow));
}

TEST(ApiTest, TokensScopesReadsDemandsAndTheAuditLog) {
  TempDir dir;
  auto daemon = std::make_unique<ApiDaemon>(dir);
  ASSERT_GT(daemon->api_port(), 0) << daemon->log();
  const std::string erp = new_token(*daemon, {"token", "add", "erp", "--scope", "read", "--scope", "demands"});
  const std::string viewer = new_token(*daemon, {"token", "add", "viewer", "--scope", "read"});
  ASSERT_FALSE(erp.empty());
  ASSERT_FALSE(viewer.empty());
  EXPECT_NE(daemon->ctl({"token", "add", "erp", "--scope", "read"}).status, 0) << "names are not reused";
  EXPECT_NE(daemon->ctl({"token", "add", "x", "--scope", "admin"}).status, 0) << "unknown scope";

  // No token, a wrong one: 401, and nothing about the accounts.
  for (const std::string& token : {std::string(), std::string("tpd_") + std::string(64, '0')}) {
    const auto refused = daemon->call("GET", "/api/v1/accounts", token);
    EXPECT_EQ(refused.status, 401) << refused.body;
    EXPECT_EQ(refused.body.find("payout"), std::string::npos) << refused.body;
  }

  // Reads: the account, and the journal once the scenario's top-up happened.
  ASSERT_TRUE(eventually([&] {
    const auto accounts = daemon->call("GET", "/api/v1/accounts", viewer);
    return accounts.status == 200 && accounts.body.find("\"balance_minor\":null") == std::string::npos &&
           accounts.body.find("\"name\":\"payout\"") != std::string::npos;
  }, 10s)) << daemon->log();
  const auto accounts = daemon->call("GET", "/api/v1/accounts", viewer);
  EXPECT_NE(accounts.body.find("\"currency\":\"IDR\""), std::string::npos) << accounts.body;
  EXPECT_NE(accounts.body.find("\"rules\":[{\"name\":\"payout-low\""), std::string::npos) << accounts.body;
  ASSERT_TRUE(eventually([&] {
    return count_of(daemon->call("GET", "/api/v1/top-ups?account=payout", viewer).body, "\"key\":") >= 2;
  }, 20s)) << daemon->log();
  const auto first_page = daemon->call("GET", "/api/v1/top-ups?account=payout&limit=1", viewer);
  ASSERT_EQ(first_page.status, 200) << first_page.body;
  EXPECT_EQ(count_of(first_page.body, "\"key\":"), 1u) << first_page.body;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(first_page.body, match, std::regex(R"#("next_cursor":"([0-9a-f.]+)")#")))
      << first_page.body;
  const std::string cursor = match[1];
  ASSERT_TRUE(std::regex_search(first_page.body, match, std::regex(R"#("key":"([^"]+)")#")));
  const std::string first_key = match[1];
  const auto second_page = daemon->call("GET", "/api/v1/top-ups?account=payout&limit=1&cursor=" + cursor, viewer);
  EXPECT_EQ(second_page.status, 200);
  EXPECT_EQ(second_page.body.find(first_key), std::string::npos) << "the next page goes on after the first";
  const auto one = daemon->call("GET", "/api/v1/top-ups/" + first_key, viewer);
  EXPECT_EQ(one.status, 200) << one.body;
  EXPECT_NE(one.body.find("\"transitions\":[{\"from\":null,\"to\":\"planned\""), std::string::npos) << one.body;
  EXPECT_EQ(daemon->call("GET", "/api/v1/top-ups/no-such-key", viewer).status, 404);
  EXPECT_EQ(daemon->call("GET", "/api/v1/top-ups?colour=red", viewer).status, 400);
  EXPECT_EQ(daemon->call("GET", "/api/v1/top-ups?cursor=zz", viewer).status, 400);

  // Demands: the viewer may not announce one; the ERP may, once per reference.
  const std::string payroll = R"({"reference":"payroll-2026-12","account":"payout","amount":"250000.00",)"
                              R"("currency":"IDR","due_at":")" + due_tomorrow() + R"("})";
  EXPECT_EQ(daemon->call("POST", "/api/v1/demands", viewer, payroll).status, 403);
  const auto created = daemon->call("POST", "/api/v1/demands", erp, payroll);
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_NE(created.body.find("\"amount_minor\":25000000"), std::string::npos) << created.body;
  EXPECT_EQ(daemon->call("POST", "/api/v1/demands", erp, payroll).status, 200) << "the same demand again";
  std::string changed = payroll;
  changed.replace(changed.find("250000.00"), 9, "260000.00");
  EXPECT_EQ(daemon->call("POST", "/api/v1/demands", erp, changed).status, 409);

  // Bad requests: each a clear 4xx, none stored.
  struct Bad {
    std::string body;
    int status;
    std::string says;
  };
  const std::string due = due_tomorrow();
  const std::vector<Bad> bad = {
      {"{not json", 400, "not a JSON object"},
      {R"({"reference":"a","account":"nowhere","amount":"1.00","due_at":")" + due + R"("})", 422, "no account"},
      {R"({"reference":"b","account":"payout","amount":"1.00","currency":"USD","due_at":")" + due + R"("})", 422,
       "holds IDR"},
      {R"({"reference":"c","account":"payout","amount":"1.001","due_at":")" + due + R"("})", 400, "amount"},
      {R"({"reference":"d","account":"payout","amount":"-5","due_at":")" + due + R"("})", 422, "more than 0"},
      {R"({"reference":"e","account":"payout","amount":1.5,"due_at":")" + due + R"("})", 400, "decimal string"},
      {R"({"reference":"f","account":"payout","amount":"5","due_at":"2001-01-01T00:00:00Z"})", 422, "has passed"},
      {R"({"reference":"g h","account":"payout","amount":"5","due_at":")" + due + R"("})", 400, "reference"},
      {R"({"reference":"g/h","account":"payout","amount":"5","due_at":")" + due + R"("})", 400, "reference"},
      {R"({"reference":"i","account":"payout","amount":"5","due_at":")" + due + R"(","extra":1})", 400, "unknown field"},
      {R"({"reference":"j","account":"payout","amount":"5","due_at":")" + due + R"(","padding":")" +
           std::string(3000, 'x') + R"("})", 413, "max_body"},
  };
  for (const auto& b : bad) {
    const auto refused = daemon->call("POST", "/api/v1/demands", erp, b.body);
    EXPECT_EQ(refused.status, b.status) << b.body.substr(0, 120) << "\n" << refused.body;
    EXPECT_NE(refused.body.find(b.says), std::string::npos) << refused.body;
  }
  EXPECT_EQ(daemon->call("POST", "/api/v1/demands", erp, payroll, "text/plain").status, 415);
  const auto listed = daemon->call("GET", "/api/v1/demands", viewer);
  EXPECT_EQ(count_of(listed.body, "\"reference\":"), 1u) << listed.body;

  // Revoked: the viewer's token opens nothing any more.
  EXPECT_EQ(daemon->ctl({"token", "revoke", "viewer"}).status, 0);
  EXPECT_EQ(daemon->call("GET", "/api/v1/accounts", viewer).status, 401);

  // Counted by endpoint and outcome, every pair present from the start.
  const auto api_calls = [&](const char* endpoint, const char* outcome) {
    return daemon->metric("topupd_api_requests_total",
                          {fmt::format("endpoint=\"{}\"", endpoint), fmt::format("outcome=\"{}\"", outcome)});
  };
  EXPECT_EQ(api_calls("accounts", "unauthorized"), 3.0) << "no token, a wrong one, a revoked one";
  EXPECT_EQ(api_calls("demands", "forbidden"), 1.0);
  EXPECT_EQ(api_calls("demands", "refused"), 13.0) << "the bad ones, the 409 and the 415";
  EXPECT_EQ(api_calls("demand", "unavailable"), 0.0);

  // A restart keeps the tokens and the demand.
  daemon->stop();
  daemon = std::make_unique<ApiDaemon>(dir);
  const auto kept = daemon->call("GET", "/api/v1/demands/payroll-2026-12", erp);
  EXPECT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(daemon->call("GET", "/api/v1/accounts", viewer).status, 401);
  EXPECT_EQ(daemon->call("DELETE", "/api/v1/demands/payroll-2026-12", erp).status, 204);
  EXPECT_EQ(daemon->call("DELETE", "/api/v1/demands/payroll-2026-12", erp).status, 404);
  const auto tokens = daemon->ctl({"token", "list"});
  EXPECT_NE(tokens.output.find("erp"), std::string::npos) << tokens.output;
  EXPECT_EQ(tokens.output.find("tpd_"), std::string::npos) << "a token is shown once, never listed";
  daemon->stop();

  // Every call audited — refused ones too — with who made it; never a token.
  auto store = adapters::open_sqlite_store(dir.file("topupd.db"));
  const auto log = store->api().audit_log(core::Timestamp{}, 1000);
  std::size_t anonymous = 0, by_erp = 0, by_viewer = 0, too_large = 0, token_changes = 0;
  for (const auto& entry : log) {
    EXPECT_EQ(entry.detail.find("tpd_"), std::string::npos) << entry.detail;
    if (entry.actor.rfind("anonymous", 0) == 0) ++anonymous;
    if (entry.actor == "token:erp") ++by_erp;
    if (entry.actor == "token:viewer") ++by_viewer;
    if (entry.detail == "413") ++too_large;
    if (entry.actor == "topupctl") ++token_changes;
  }
  EXPECT_EQ(anonymous, 4u) << "two refused before revocation, two after";
  EXPECT_EQ(too_large, 1u);
  EXPECT_EQ(token_changes, 3u) << "two added, one revoked";
  EXPECT_GE(by_viewer, 8u);
  EXPECT_GE(by_erp, 16u);

  // The shipped OpenAPI document is valid (swagger-parser) and documents every answer
  // given above, each body matching its schema (ajv).
  std::string samples;
  for (const auto& a : answers) {
    samples += fmt::format("{}{{\"method\":{},\"path\":{},\"status\":{},\"body\":{}}}", samples.empty() ? "" : ",",
                           adapters::json_string(a.method), adapters::json_string(a.path), a.status,
                           adapters::json_string(a.body));
  }
  dir.write("samples.json", "[" + samples + "]");
  const auto checked = run_command({TOPUPD_NODE, kSource + "/tests/integration/peers/openapi_check.js",
                                    kSource + "/docs/api/openapi.yaml", dir.file("samples.json")});
  EXPECT_EQ(checked.status, 0) << checked.output;
  EXPECT_EQ(checked.output.rfind("valid\n", 0), 0u) << checked.output;
  EXPECT_GE(count_of(checked.output, ": ok"), answers.size()) << checked.output;
}

// A document that is not valid OpenAPI is refused by the checker: the check can fail.
TEST(ApiTest, TheOpenApiCheckRefusesABrokenDocument) {
  TempDir dir;
  dir.write("broken.yaml", "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n"
                           "        '200': {description: ok, content: {application/json: {schema: {$ref: '#/nowhere'}}}}\n");
  const auto checked = run_command({TOPUPD_NODE, kSource + "/tests/integration/peers/openapi_check.js",
                                    dir.file("broken.yaml")});
  EXPECT_NE(checked.status, 0) << checked.output;
  EXPECT_NE(checked.output.find("invalid"), std::string::npos) << checked.output;
}

}  // namespace
}  // namespace topupd::testing
