// Deposits (core/deposit.hpp): the banks' codes.
#include "topupd/core/deposit.hpp"

#include <cctype>
#include <map>

namespace topupd::core {

std::string bi_bank_code(const std::string& bank) {
  static const std::map<std::string, std::string> kCodes = {
      {"BCA", "014"},  {"BNI", "009"}, {"BRI", "002"}, {"MANDIRI", "008"},           {"PERMATA", "013"},
      {"CIMB", "022"}, {"BSI", "451"}, {"BJB", "110"}, {"SAHABAT_SAMPOERNA", "523"}, {"DBS", "046"},
  };
  std::string upper = bank;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto it = kCodes.find(upper);
  return it == kCodes.end() ? bank : it->second;
}

}  // namespace topupd::core
