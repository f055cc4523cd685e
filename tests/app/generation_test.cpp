// Building configuration generations without a daemon: which providers a reload keeps
// (with their state), which it rebuilds, and the settings only a restart changes.
#include "generation.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_provider.hpp"

namespace topupd::app {
namespace {

const char* kBase = R"(timezone: Asia/Jakarta
store: {sqlite: /var/lib/topupd/a.db}
http: {listen: "127.0.0.1:9464"}
providers:
  bank: {type: sandbox, accounts: {payout: {balance: IDR 1000}}}
  gw: {type: xendit, api_key: xnd_development_x, base_url: "https://127.0.0.1:1"}
accounts:
  payout: {provider: bank, currency: IDR}
  wallet: {provider: gw, currency: IDR}
)";

config::Config load(const std::string& text) {
  auto loaded = config::load_string(text, "generation.yaml", config::SecretSources::from_process());
  if (!loaded.config) {
    ADD_FAILURE() << loaded.diagnostics.at(0).to_string();
    return {};
  }
  return std::move(*loaded.config);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class GenerationTest : public ::testing::Test {
 protected:
  ProviderFactories factories() {
    return {[this](const config::ProviderConfig& provider) {
              http_built.push_back(provider.name);
              return std::make_shared<testing::FakeProvider>();
            },
            [this](const config::ProviderConfig& provider) {
              sandboxes_built.push_back(provider.name);
              return std::make_shared<adapters::SandboxProvider>(provider, clock_);
            }};
  }

  testing::FakeClock clock_;
  std::vector<std::string> http_built;
  std::vector<std::string> sandboxes_built;
};

TEST_F(GenerationTest, FirstGenerationBuildsEveryProvider) {
  const Generation first = first_generation(load(kBase), factories());
  EXPECT_EQ(http_built, std::vector<std::string>{"gw"});
  EXPECT_EQ(sandboxes_built, std::vector<std::string>{"bank"});
  ASSERT_EQ(first.providers.size(), 2u);
  ASSERT_EQ(first.sandboxes.size(), 1u);
  EXPECT_EQ(first.providers.at("bank"), first.sandboxes.at("bank"));
  EXPECT_TRUE(first.kept_until_restart.empty());
}

TEST_F(GenerationTest, AReloadKeepsUnchangedProvidersAndTheirState) {
  const Generation first = first_generation(load(kBase), factories());
  http_built.clear();
  sandboxes_built.clear();
  // Only an account is added: both providers are the very same objects.
  const std::string more = std::string(kBase) + "  spare: {provider: gw, currency: IDR}\n";
  const Generation second = next_generation(first, load(more), factories());
  EXPECT_TRUE(http_built.empty());
  EXPECT_TRUE(sandboxes_built.empty());
  EXPECT_EQ(second.providers.at("gw"), first.providers.at("gw"));
  EXPECT_EQ(second.sandboxes.at("bank"), first.sandboxes.at("bank"));
  EXPECT_EQ(second.config.accounts.size(), 3u);
  EXPECT_TRUE(second.kept_until_restart.empty());
}

TEST_F(GenerationTest, AReloadRebuildsOnlyTheProvidersThatChanged) {
  const Generation first = first_generation(load(kBase), factories());
  http_built.clear();
  sandboxes_built.clear();
  const Generation second = next_generation(first, load(replaced(kBase, "xnd_development_x", "xnd_development_y")),
                                            factories());
  EXPECT_EQ(http_built, std::vector<std::string>{"gw"});
  EXPECT_TRUE(sandboxes_built.empty());
  EXPECT_NE(second.providers.at("gw"), first.providers.at("gw"));
  EXPECT_EQ(second.providers.at("bank"), first.providers.at("bank"));

  const Generation third = next_generation(second, load(replaced(kBase, "IDR 1000", "IDR 2000")), factories());
  EXPECT_EQ(sandboxes_built, std::vector<std::string>{"bank"});
  EXPECT_NE(third.sandboxes.at("bank"), second.sandboxes.at("bank"));
  EXPECT_EQ(third.providers.at("bank"), third.sandboxes.at("bank"));
}

TEST_F(GenerationTest, ARemovedProviderIsDropped) {
  const Generation first = first_generation(load(kBase), factories());
  const std::string without = R"(timezone: Asia/Jakarta
store: {sqlite: /var/lib/topupd/a.db}
http: {listen: "127.0.0.1:9464"}
providers:
  bank: {type: sandbox, accounts: {payout: {balance: IDR 1000}}}
accounts:
  payout: {provider: bank, currency: IDR}
)";
  const Generation second = next_generation(first, load(without), factories());
  EXPECT_EQ(second.providers.count("gw"), 0u);
  EXPECT_EQ(second.providers.at("bank"), first.providers.at("bank"));
}

TEST_F(GenerationTest, RestartOnlySettingsAreCarriedOverAndNoted) {
  const Generation first = first_generation(load(kBase), factories());
  std::string moved = replaced(kBase, "/var/lib/topupd/a.db", "/var/lib/topupd/b.db");
  moved = replaced(moved, "127.0.0.1:9464", "127.0.0.1:9465");
  const Generation second = next_generation(first, load(moved), factories());
  EXPECT_EQ(second.config.store_path, "/var/lib/topupd/a.db");
  EXPECT_EQ(second.config.http_port, 9464);
  ASSERT_EQ(second.kept_until_restart.size(), 2u);
  EXPECT_NE(second.kept_until_restart[0].find("store.sqlite or store.postgres changed"), std::string::npos);
  EXPECT_NE(second.kept_until_restart[1].find("http.listen changed"), std::string::npos);
}

TEST_F(GenerationTest, AProviderThatCannotBeBuiltLeavesTheRunningGenerationAlone) {
  const Generation first = first_generation(load(kBase), factories());
  ProviderFactories failing = factories();
  failing.http = [](const config::ProviderConfig&) -> std::shared_ptr<adapters::Provider> {
    throw std::runtime_error("cannot read the CA bundle");
  };
  EXPECT_THROW(next_generation(first, load(replaced(kBase, "xnd_development_x", "xnd_development_y")), failing),
               std::runtime_error);
  EXPECT_EQ(first.config.find_provider("gw")->api_key, "xnd_development_x");
  EXPECT_EQ(first.providers.size(), 2u);
}

}  // namespace
}  // namespace topupd::app
