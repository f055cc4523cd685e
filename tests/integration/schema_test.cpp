// The shipped JSON Schema against the shipped configs, with the real ajv-cli.
#include <filesystem>

#include <gtest/gtest.h>

#include "integration/process.hpp"

namespace topupd::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSource = TOPUPD_SOURCE_DIR;
const std::string kSchema = kSource + "/etc/topupd/topupd.schema.json";

CommandResult ajv(const std::string& file, const std::string& schema = kSchema) {
  return run_command({TOPUPD_NODE, kSource + "/node_modules/ajv-cli/dist/index.js", "validate", "--spec=draft2020",
                      "-s", schema, "-d", file});
}

// The secrets the examples reference, as systemd would hand them over.
void write_example_credentials(const TempDir& dir) {
  for (const char* name : {"stripe-api-key", "xendit-api-key", "iris-api-key", "flip-api-key", "wallet-api-token",
                           "snap-client-id", "snap-client-secret", "snap-card-token", "stripe-webhook-secret",
                           "smtp-password", "telegram-bot-token", "treasury-hook-secret"}) {
    dir.write(name, std::string("example-") + name + "\n");
  }
  dir.write("slack-webhook-url", "https://hooks.slack.com/services/T000/B000/XXXX\n");
  dir.write("topupd-events-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
  run_command({TOPUPD_OPENSSL, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
               dir.file("snap-private-key")});
  run_command({TOPUPD_OPENSSL, "pkey", "-in", dir.file("snap-private-key"), "-pubout", "-out",
               dir.file("snap-bank-public-key")});
}

std::vector<std::string> shipped_yaml() {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(kSource + "/etc")) {
    const auto extension = entry.path().extension();
    if (extension == ".yaml" || extension == ".yml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SchemaTest, EveryShippedConfigNamesTheSchemaAndIsValidForItAndForTopupd) {
  const auto files = shipped_yaml();
  ASSERT_GE(files.size(), 8u);
  TempDir credentials;
  write_example_credentials(credentials);
  for (const auto& file : files) {
    SCOPED_TRACE(file);
    if (file.find("/etc/prometheus/") != std::string::npos) continue;  // promtool checks those
    const std::string text = read_file(file);
    EXPECT_EQ(text.rfind("# yaml-language-server: $schema=", 0), 0u);
    if (text.rfind("# yaml-language-server: $schema=sandbox.schema.json", 0) == 0) {
      const auto schema = ajv(file, kSource + "/etc/topupd/sandbox.schema.json");
      EXPECT_EQ(schema.status, 0) << schema.output;
      continue;
    }
    const auto schema = ajv(file);
    EXPECT_EQ(schema.status, 0) << schema.output;
    const auto check = run_command({TOPUPD_BINARY, "check", "--config", file}, "/dev/null",
                                   {{"CREDENTIALS_DIRECTORY", credentials.path()}});
    EXPECT_EQ(check.status, 0) << check.output;
  }
}

TEST(SchemaTest, RejectsWhatTopupdRejects) {
  for (const char* name : {"unknown-top-level-key", "ambiguous-money", "comma-money-block", "two-conditions",
                           "rules-not-a-list", "duration-without-unit", "unknown-method", "percent-out-of-range",
                           "webhooks-wrong", "stuck-after-wrong",
                           "suspend-after-wrong", "rails-mixed-with-a-method", "generic-top-up-without-a-look-up",
                           "events-wrong"}) {
    SCOPED_TRACE(name);
    const auto result = ajv(kSource + "/tests/data/config/bad/" + name + ".yaml");
    EXPECT_NE(result.status, 0) << result.output;
    EXPECT_NE(result.output.find("invalid"), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace topupd::testing
