// Deposits (core/deposit.hpp): the banks' codes.
#include "topupd/core/deposit.hpp"

#include <cctype>
#include <map>

namespace topupd::core {

namespace {

const std::map<std::string, std::string>& codes() {
  static const std::map<std::string, std::string> kCodes = {
      {"BCA", "014"},  {"BNI", "009"}, {"BRI", "002"}, {"MANDIRI", "008"},           {"PERMATA", "013"},
      {"CIMB", "022"}, {"BSI", "451"}, {"BJB", "110"}, {"SAHABAT_SAMPOERNA", "523"}, {"DBS", "046"},
  };
  return kCodes;
}

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::string bi_bank_code(const std::string& bank) {
  const auto it = codes().find(upper(bank));
  return it == codes().end() ? bank : it->second;
}

Money expected_credit(const DepositDestination& to, const Money& amount) {
  if (to.kind != DepositDestination::Kind::qris || to.fee_basis_points <= 0) return amount;
  __extension__ typedef __int128 Wide;
  const auto fee = static_cast<std::int64_t>(static_cast<Wide>(amount.minor()) * to.fee_basis_points / 10'000);
  return Money(amount.minor() - fee, amount.currency());
}

std::string bank_name(const std::string& bank) {
  for (const auto& [name, code] : codes()) {
    if (code == bank) return name;
  }
  return codes().count(upper(bank)) ? upper(bank) : bank;
}

}  // namespace topupd::core
