// Deposits paid through SNAP (snap_client.hpp): the company's bank pays the deposit's
// destination. First the beneficiary is checked — account inquiry internal (15) at the
// same bank, external (16) at another — and the name the bank finds must be the one
// the destination was journalled with; then the transfer, intrabank (17) or interbank
// (18), under the partnerReferenceNo derived from the top-up's key, so a repeat is a
// duplicate at the bank and never a second transfer. The look-up is the transfer
// status inquiry (36) of that service.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "snap_client.hpp"

namespace topupd::adapters::providers {
namespace {

// Names as banks print them: case, punctuation and runs of spaces do not matter.
std::string comparable_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out.push_back(static_cast<char>(std::toupper(u)));
    else if (!out.empty() && out.back() != ' ') out.push_back(' ');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool intrabank(const SnapClient& snap, const core::DepositTicket& to) {
  return !snap.config().snap.bank_code.empty() && core::bi_bank_code(to.bank) == snap.config().snap.bank_code;
}

}  // namespace

asio::awaitable<ProviderResult<TopUpReceipt>> pay_deposit(SnapClient& snap, const TopUpRequest& top_up) {
  if (!top_up.pay_to) {
    co_return ProviderError{FailureKind::not_retryable, "no_destination", "a deposit without its destination"};
  }
  const core::DepositTicket& to = *top_up.pay_to;
  const bool same_bank = intrabank(snap, to);
  const std::string bank_code = core::bi_bank_code(to.bank);
  // The beneficiary first: a wrong or renamed account is never paid.
  Value inquiry = Value::object()
                      .set("partnerReferenceNo", Value::string(snap.read_external_id()))
                      .set("beneficiaryAccountNo", Value::string(to.account_no));
  if (!same_bank) inquiry.set("beneficiaryBankCode", Value::string(bank_code));
  const std::string inquiry_id = snap.read_external_id();
  auto found = co_await snap.transact(same_bank ? "account-inquiry-internal" : "account-inquiry-external", inquiry,
                                      inquiry_id, false);
  if (!found) co_return found.error();  // nothing moved: the next look pays it
  if (found->first.http != 200) co_return snap.code_error(found->first, false);
  const std::string named = found->second.string_at("beneficiaryAccountName").value_or("");
  if (named.empty()) co_return snap.malformed_answer("no beneficiaryAccountName", false);
  if (comparable_name(named) != comparable_name(to.name)) {
    co_return ProviderError{FailureKind::not_retryable, "beneficiary_name_mismatch",
                            fmt::format("the bank names {} {} '{}', not '{}': nothing was paid", to.bank, to.account_no,
                                        named, to.name)};
  }
  const std::string reference = snap_partner_reference(top_up.idempotency_key);
  Value body = Value::object()
                   .set("partnerReferenceNo", Value::string(reference))
                   .set("amount", snap_money_json(top_up.amount))
                   .set("beneficiaryAccountNo", Value::string(to.account_no))
                   .set("sourceAccountNo", Value::string(top_up.source))
                   .set("transactionDate", Value::string(snap.timestamp()))
                   .set("remark", Value::string("topupd deposit"));
  if (!same_bank) {
    body.set("beneficiaryAccountName", Value::string(named)).set("beneficiaryBankCode", Value::string(bank_code));
  }
  auto reply = co_await snap.transact(same_bank ? "transfer-intrabank" : "transfer-interbank", body,
                                      snap_external_id(top_up.idempotency_key), true);
  if (!reply) co_return reply.error();
  if (auto receipt = snap.receipt_of(*reply, reference, false)) co_return *receipt;
  co_return from_look_up(co_await look_up_deposit(snap, top_up));
}

asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up_deposit(SnapClient& snap,
                                                                             const TopUpRequest& top_up) {
  const bool same_bank = top_up.pay_to && intrabank(snap, *top_up.pay_to);
  co_return co_await snap.status_inquiry(top_up, "transfer/status", same_bank ? "17" : "18");
}

}  // namespace topupd::adapters::providers
