// Loading a deposit rail (core/deposit.hpp): `to` (where the money must arrive) and
// `pay_with` (who pays it).
//
//   to: {xendit_va: {via: xendit, bank: BNI, name: "PT Example", expires_after: 6h}}
//     | {xendit_qris: {via: xendit, expires_after: 30m, fee: 0.7%}}
//     | {static: {bank: "014", account_no: "…", name: "PT …"}}
//   pay_with: {snap_transfer: {via: bca, from_account: "1234567890"}}
//     | {payout: {via: xendit, from: xendit-cash, keep_in_source: IDR 5_000_000}} | assisted
//
// A payout's `from` is the watched account whose balance pays (its provider is `via`);
// when left out, the one account of `via` is meant. Its `keep_in_source` is the rail's.
#include "loader.hpp"

namespace topupd::config::detail {

std::optional<core::DepositSpec> Loader::load_deposit(const Map& rail, const std::string& path,
                                                     std::optional<Money>& keep_in_source, std::optional<Currency> currency) {
  core::DepositSpec spec;
  bool complete = true;
  const YAML::Node* to_node = rail.get("to");
  if (!to_node) {
    rail.missing("to", "where the money must arrive: {xendit_va: {…}} or {static: {…}}");
    complete = false;
  } else {
    Map to(*this, *to_node, path + ".to", {"xendit_va", "xendit_qris", "static"});
    const auto kinds = to.entries();
    const std::string kind = kinds.size() == 1 ? kinds.front().first : "";
    if (to.valid() && kind.empty()) {
      error(path + ".to", to.location(), "give exactly one destination: xendit_va, xendit_qris or static");
      complete = false;
    } else if (kind == "xendit_qris") {
      Map qris(*this, *to.get("xendit_qris"), path + ".to.xendit_qris", {"via", "expires_after", "fee"});
      spec.to.kind = core::DepositDestination::Kind::qris;
      spec.to.via = string_at(qris, "via").value_or("");
      spec.to.bank = "QRIS";
      spec.to.expires_after = std::chrono::minutes(30);
      if (auto expiry = duration_at(qris, "expires_after")) spec.to.expires_after = *expiry;
      if (const YAML::Node* fee = qris.get("fee")) {
        auto text = scalar(*fee, path + ".to.xendit_qris.fee");
        auto parsed = text ? parse_percent(text->text) : std::nullopt;
        if (text && (!parsed || *parsed > 1'000)) {
          bad_value(path + ".to.xendit_qris.fee", *fee, *text,
                    fmt::format("'{}' must be a percentage from 0 to 10, e.g. 0.7%", text->text), "a percentage, e.g. 0.7%");
          complete = false;
        } else if (parsed) {
          spec.to.fee_basis_points = *parsed;
        }
      }
      complete = complete && qris.valid();
    } else if (kind == "xendit_va") {
      Map va(*this, *to.get("xendit_va"), path + ".to.xendit_va", {"via", "bank", "name", "expires_after"});
      spec.to.kind = core::DepositDestination::Kind::ticket;
      spec.to.via = string_at(va, "via").value_or("");
      if (auto bank = string_at(va, "bank")) spec.to.bank = *bank;
      else if (va.valid() && !va.has("bank")) {
        va.missing("bank", "the bank of the virtual account, e.g. BNI");
        complete = false;
      }
      if (auto name = string_at(va, "name")) spec.to.name = *name;
      else if (va.valid() && !va.has("name")) {
        va.missing("name", "the name the virtual account shows to the payer, e.g. your company's");
        complete = false;
      }
      if (auto expiry = duration_at(va, "expires_after")) spec.to.expires_after = *expiry;
      complete = complete && va.valid();
    } else if (kind == "static") {
      Map fixed(*this, *to.get("static"), path + ".to.static", {"bank", "account_no", "name"});
      spec.to.kind = core::DepositDestination::Kind::static_account;
      const std::pair<const char*, std::string*> fields[] = {
          {"bank", &spec.to.bank}, {"account_no", &spec.to.account_no}, {"name", &spec.to.name}};
      for (const auto& [key, out] : fields) {
        if (auto value = string_at(fixed, key)) *out = *value;
        else if (fixed.valid() && !fixed.has(key)) {
          fixed.missing(key, std::string(key) == "name" ? "the holder's name the bank must find before paying"
                                                       : "the gateway's top-up account as its dashboard shows it");
          complete = false;
        }
      }
      complete = complete && fixed.valid();
    } else {
      complete = false;
    }
  }
  const YAML::Node* pay_node = rail.get("pay_with");
  if (!pay_node) {
    rail.missing("pay_with", "who pays: {snap_transfer: {via: BANK, from_account: …}}, {payout: {via: GATEWAY}} or assisted");
    complete = false;
  } else if (pay_node->IsScalar() && pay_node->as<std::string>() == "assisted") {
    spec.pay_with.kind = core::DepositPayment::Kind::assisted;
  } else {
    Map pay(*this, *pay_node, path + ".pay_with", {"snap_transfer", "payout", "assisted"});
    if (pay.valid() && pay.entries().size() != 1) {
      error(path + ".pay_with", pay.location(), "give one payment leg: snap_transfer, payout or assisted");
      complete = false;
    } else if (pay.valid() && pay.has("assisted")) {
      Map assisted(*this, *pay.get("assisted"), path + ".pay_with.assisted", {});
      spec.pay_with.kind = core::DepositPayment::Kind::assisted;
      complete = complete && assisted.valid();
    } else if (pay.valid() && pay.has("payout")) {
      const std::string payout_path = path + ".pay_with.payout";
      Map payout(*this, *pay.get("payout"), payout_path, {"via", "from", "keep_in_source"});
      spec.pay_with.kind = core::DepositPayment::Kind::payout;
      if (auto via = string_at(payout, "via")) spec.pay_with.via = *via;
      else if (payout.valid() && !payout.has("via")) {
        payout.missing("via", "the gateway whose balance pays, e.g. xendit");
        complete = false;
      }
      if (auto from = string_at(payout, "from")) {
        spec.pay_with.from_account = *from;
      } else if (payout.valid() && !spec.pay_with.via.empty()) {
        // The one watched account at that gateway, when there is exactly one.
        std::vector<std::string> at_gateway;
        for (const auto& account : config_.accounts) {
          if (account.provider == spec.pay_with.via) at_gateway.push_back(account.name);
        }
        if (at_gateway.size() == 1) {
          spec.pay_with.from_account = at_gateway.front();
        } else {
          error(payout_path + ".from", payout.location(),
                fmt::format("name the account whose balance pays: {} accounts are at provider '{}'",
                            at_gateway.size(), spec.pay_with.via));
          complete = false;
        }
      }
      keep_in_source = money_at(payout, "keep_in_source", currency);
      complete = complete && payout.valid();
    } else if (pay.valid()) {
      Map snap(*this, *pay.get("snap_transfer"), path + ".pay_with.snap_transfer", {"via", "from_account"});
      spec.pay_with.kind = core::DepositPayment::Kind::snap_transfer;
      if (auto via = string_at(snap, "via")) spec.pay_with.via = *via;
      else if (snap.valid() && !snap.has("via")) {
        snap.missing("via", "the SNAP provider of the company's bank");
        complete = false;
      }
      if (auto from = string_at(snap, "from_account")) spec.pay_with.from_account = *from;
      else if (snap.valid() && !snap.has("from_account")) {
        snap.missing("from_account", "the company's account the bank pays from");
        complete = false;
      }
      complete = complete && snap.valid();
    } else {
      complete = false;
    }
  }
  if (!complete) return std::nullopt;
  return spec;
}

}  // namespace topupd::config::detail
