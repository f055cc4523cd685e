// Fuzzes the config loader end to end (YAML, expansion, conversion, validation):
// any input yields either a config or diagnostics, never a crash, and every
// diagnostic names its file.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "topupd/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  topupd::config::SecretSources secrets;
  secrets.env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SET") return std::string("127.0.0.1:0");
    return std::nullopt;
  };
  secrets.read_file = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  const auto result = topupd::config::load_string(text, "fuzz.yaml", secrets);
  if (result.config.has_value() == !result.diagnostics.empty()) std::abort();
  for (const auto& diagnostic : result.diagnostics) {
    if (diagnostic.file != "fuzz.yaml" || diagnostic.message.empty()) std::abort();
    (void)diagnostic.to_string();
  }
  return 0;
}
