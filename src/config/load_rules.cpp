// Config: `accounts`, `notifiers`, `rules` and their top-ups. See loader.hpp.
#include "loader.hpp"

namespace topupd::config::detail {

void Loader::load_accounts(const YAML::Node& node) {
  Map accounts(*this, node, "accounts", {});
  for (const auto& [name, value] : accounts.entries()) {
    const std::string path = "accounts." + name;
    Map map(*this, value, path, {"provider", "id", "balance", "currency", "poll"});
    if (!map.valid()) continue;
    AccountConfig account;
    account.name = name;
    account.id = name;
    if (auto provider = string_at(map, "provider")) account.provider = *provider;
    else if (!map.has("provider")) map.missing("provider", "the name of a configured provider");
    if (auto id = string_at(map, "id")) account.id = *id;
    if (auto balance = string_at(map, "balance")) account.balance = *balance;
    if (const YAML::Node* currency_node = map.get("currency")) {
      if (auto code = scalar(*currency_node, path + ".currency")) {
        if (auto currency = Currency::find(code->text)) account.currency = *currency;
        else bad_value(path + ".currency", *currency_node, *code,
                       fmt::format("unknown currency '{}' (ISO-4217 code such as IDR, USD)", code->text),
                       "an ISO-4217 code such as IDR or USD");
      }
    } else {
      map.missing("currency", "ISO-4217 code such as IDR");
    }
    if (const YAML::Node* poll_node = map.get("poll")) {
      Map poll(*this, *poll_node, path + ".poll", {"every", "timeout", "jitter", "max_backoff"});
      if (auto every = duration_at(poll, "every")) account.poll.every = *every;
      if (auto timeout = duration_at(poll, "timeout")) account.poll.timeout = *timeout;
      if (auto jitter = percent_at(poll, "jitter", 0, 50)) account.poll.jitter_percent = *jitter;
      if (auto backoff = duration_at(poll, "max_backoff")) account.poll.max_backoff = *backoff;
    }
    config_.accounts.push_back(std::move(account));
  }
}

void Loader::load_notifiers(const YAML::Node& node) {
  Map notifiers(*this, node, "notifiers", {});
  for (const auto& [name, value] : notifiers.entries()) {
    const std::string path = "notifiers." + name;
    std::string type;
    if (value.IsMap() && value["type"] && value["type"].IsScalar()) type = value["type"].Scalar();
    std::vector<std::string> keys = {"type", "text_template", "locale", "dashboard_url", "runbook_url"};
    const std::vector<std::string> http = {"group_wait", "rate_limit", "timeout", "ca_file", "proxy"};
    if (type != "log") keys.insert(keys.end(), http.begin(), http.end());
    if (type == "email") keys.erase(std::find(keys.begin(), keys.end(), "rate_limit"));  // one message at a time
    if (type == "slack") keys.push_back("webhook_url");
    if (type == "telegram") keys.insert(keys.end(), {"bot_token", "chat_id", "api_url"});
    if (type == "webhook") keys.insert(keys.end(), {"url", "secret", "body_template"});
    if (type == "alertmanager") keys.insert(keys.end(), {"url", "resend"});
    if (type == "email") keys.insert(keys.end(), {"smtp", "starttls", "username", "password", "from", "to"});
    Map map(*this, value, path, keys);
    if (!map.valid()) continue;
    NotifierConfig notifier;
    notifier.name = name;
    if (auto v = string_at(map, "type")) {
      notifier.type = notifier_type_named(*v);
      if (!notifier.type) {
        error(path + ".type", config_.locations.find(path + ".type"),
              fmt::format("unknown notifier type '{}'; supported: {}", *v, notifier_type_names()));
      }
    } else if (!map.has("type")) map.missing("type", "log, email, slack, telegram, webhook or alertmanager");
    if (notifier.type == NotifierType::events) {
      error(path + ".type", config_.locations.find(path + ".type"),
            "events go to the backend's subscriptions under 'events:', not to a notifier");
    }
    if (type == "email") {
      if (auto v = string_at(map, "smtp")) notifier.url = *v;
      else if (!map.has("smtp")) map.missing("smtp", "the mail server, e.g. smtp://mail.example.com:587");
      if (auto v = string_at(map, "starttls")) notifier.starttls = *v;
      if (auto v = string_at(map, "username")) notifier.username = *v;
      if (const YAML::Node* pw = map.get("password")) {
        if (auto text = scalar(*pw, path + ".password")) notifier.password = text->text;
      }
      if (auto v = string_at(map, "from")) notifier.from = *v;
      else if (!map.has("from")) map.missing("from", "the sender address, e.g. topupd@example.com");
      if (auto list = strings_at(map, "to")) notifier.to = *list;
      else if (!map.has("to")) map.missing("to", "the recipients, e.g. [finance@example.com]");
    }
    if (auto v = string_at(map, "webhook_url")) notifier.url = *v;
    else if (type == "slack" && !map.has("webhook_url")) map.missing("webhook_url", "the Slack incoming-webhook URL");
    if (type == "alertmanager") {
      if (const YAML::Node* url = map.get("url")) {
        if (url->IsSequence()) {
          if (auto list = strings_at(map, "url")) notifier.urls = *list;
        } else if (auto v = string_at(map, "url")) {
          notifier.urls = {*v};
        }
      } else {
        map.missing("url", "every Alertmanager's address, e.g. [http://127.0.0.1:9093]");
      }
    } else if (auto v = string_at(map, "url")) {
      notifier.url = *v;
    } else if (type == "webhook" && !map.has("url")) {
      map.missing("url", "where to POST the alert");
    }
    if (auto v = string_at(map, "bot_token")) notifier.bot_token = *v;
    else if (type == "telegram" && !map.has("bot_token")) map.missing("bot_token", "the bot's token from @BotFather");
    if (auto v = string_at(map, "chat_id")) notifier.chat_id = *v;
    else if (type == "telegram" && !map.has("chat_id")) map.missing("chat_id", "the chat, group or channel id");
    if (auto v = string_at(map, "api_url")) notifier.api_url = *v;
    if (auto v = string_at(map, "secret")) notifier.secret = *v;
    if (auto v = string_at(map, "body_template")) notifier.body_template = *v;
    if (auto v = string_at(map, "text_template")) notifier.text_template = *v;
    if (auto v = string_at(map, "locale")) notifier.locale = *v;
    if (auto v = string_at(map, "dashboard_url")) notifier.dashboard_url = *v;
    if (auto v = string_at(map, "runbook_url")) notifier.runbook_url = *v;
    if (auto d = duration_at(map, "group_wait")) notifier.group_wait = *d;
    if (auto d = duration_at(map, "resend")) notifier.resend = *d;
    if (auto d = duration_at(map, "timeout")) notifier.timeout = *d;
    if (auto v = string_at(map, "ca_file")) notifier.ca_file = *v;
    if (const YAML::Node* proxy_node = map.get("proxy")) {
      if (auto proxy = scalar(*proxy_node, path + ".proxy")) notifier.proxy = proxy->text;
    }
    if (const YAML::Node* rate_node = map.get("rate_limit")) {
      Map rate(*this, *rate_node, path + ".rate_limit", {"per_second"});
      if (auto n = integer_at(rate, "per_second", 1, 10'000)) notifier.rate_per_second = static_cast<int>(*n);
    }
    config_.notifiers.push_back(notifier);
  }
}

void Loader::load_rules(const YAML::Node& node) {
  if (!node.IsSequence()) {
    error("rules", location_of(node.Mark()), "expected a list of rules (each item starts with '- name:')");
    return;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const std::string path = fmt::format("rules[{}]", i);
    config_.locations.record(path, location_of(node[i].Mark()));
    load_rule(node[i], path);
  }
}

void Loader::load_rule(const YAML::Node& node, const std::string& path) {
  Map map(*this, node, path, {"name", "account", "enabled", "when", "schedule", "clear", "alert", "top_up"});
  if (!map.valid()) return;
  std::optional<Currency> currency;
  std::string account_name;
  if (auto account = string_at(map, "account")) {
    account_name = *account;
    if (const AccountConfig* found = config_.find_account(*account)) currency = found->currency;
  } else if (!map.has("account")) {
    map.missing("account", "the account this rule watches");
  }
  const Money zero(0, currency.value_or(*Currency::find("IDR")));
  // A field that fails to load keeps a neutral default (in the account's currency)
  // so that validate still checks the rest of the rule: one `check` shows everything.
  core::Rule rule{.name = "", .account = account_name, .enabled = true,
                  .when = core::Condition{core::Condition::Kind::below, zero, Duration(0), Duration(0), std::nullopt},
                  .hold_for = Duration(0), .clear = std::nullopt, .alert = std::nullopt, .top_up = std::nullopt};
  if (auto name = string_at(map, "name")) rule.name = *name;
  else if (!map.has("name")) map.missing("name", "a unique rule name");
  if (auto enabled = bool_at(map, "enabled")) rule.enabled = *enabled;

  if (map.has("when") && map.has("schedule")) {
    error(path + ".schedule", config_.locations.find(path + ".schedule"),
          "a rule has either a condition ('when') or a 'schedule', not both");
  } else if (map.has("schedule")) {
    rule.when.kind = core::Condition::Kind::schedule;
    if (const YAML::Node* schedule_node = map.get("schedule")) {
      if (auto text = scalar(*schedule_node, path + ".schedule")) {
        auto parsed = core::parse_cron(text->text);
        if (parsed.value) rule.when.schedule = parsed.value;
        else bad_value(path + ".schedule", *schedule_node, *text, parsed.error, "five cron fields, e.g. \"0 9 * * *\"");
      }
    }
  } else if (const YAML::Node* when_node = map.get("when")) {
    Map when(*this, *when_node, path + ".when",
             {"below", "above", "runway_below", "window", "stale_for", "cover_demands", "for"});
    std::vector<std::string> kinds;
    for (const char* kind : {"below", "above", "runway_below", "stale_for", "cover_demands"}) {
      if (when.has(kind)) kinds.emplace_back(kind);
    }
    if (when.valid() && kinds.size() != 1) {
      error(path + ".when", when.location(),
            kinds.empty() ? "give one condition: below, above, runway_below, stale_for or cover_demands"
                          : fmt::format("give one condition, not {}", fmt::join(kinds, " and ")));
    }
    if (auto below = money_at(when, "below", currency)) rule.when = {core::Condition::Kind::below, *below, Duration(0), Duration(0), std::nullopt};
    else if (auto above = money_at(when, "above", currency)) rule.when = {core::Condition::Kind::above, *above, Duration(0), Duration(0), std::nullopt};
    else if (auto runway = duration_at(when, "runway_below")) {
      rule.when = {core::Condition::Kind::runway_below, zero, *runway, Duration(std::chrono::hours(1)), std::nullopt};
      if (auto window = duration_at(when, "window")) rule.when.window = *window;
    } else if (auto stale = duration_at(when, "stale_for")) {
      rule.when = {core::Condition::Kind::stale_for, zero, *stale, Duration(0), std::nullopt};
    } else if (const YAML::Node* cover_node = when.get("cover_demands")) {
      // Demands due within a day, the burn rate of the last six hours, nothing kept
      // beyond them and no lead: unless said otherwise.
      rule.when = {core::Condition::Kind::cover_demands, zero, Duration(std::chrono::hours(24)),
                   Duration(std::chrono::hours(6)), std::nullopt};
      Map cover(*this, *cover_node, path + ".when.cover_demands", {"within", "lead", "keep", "window"});
      if (auto within = duration_at(cover, "within")) rule.when.duration = *within;
      if (auto lead = duration_at(cover, "lead")) rule.when.lead = *lead;
      if (auto window = duration_at(cover, "window")) rule.when.window = *window;
      if (auto keep = money_at(cover, "keep", currency)) rule.when.threshold = *keep;
    }
    if (when.has("window") && !when.has("runway_below")) {
      error(path + ".when.window", config_.locations.find(path + ".when.window"),
            "'window' belongs to runway_below: the trailing time the burn rate is measured over");
    }
    if (auto hold = duration_at(when, "for")) rule.hold_for = *hold;
  } else {
    map.missing("when", "a condition, e.g. {below: IDR 10_000_000}, or a schedule");
  }
  if (const YAML::Node* clear_node = map.get("clear")) {
    Map clear(*this, *clear_node, path + ".clear", {"above", "below"});
    if (auto above = money_at(clear, "above", currency)) rule.clear = core::Clear{true, *above};
    else if (auto below = money_at(clear, "below", currency)) rule.clear = core::Clear{false, *below};
    else if (clear.valid() && !clear.has("above") && !clear.has("below")) {
      clear.missing("above", "the balance that resolves the rule");
    }
  }
  if (const YAML::Node* alert_node = map.get("alert")) {
    Map alert(*this, *alert_node, path + ".alert", {"severity", "notify", "repeat", "send_resolved"});
    core::AlertSpec spec;
    if (auto severity = string_at(alert, "severity")) spec.severity = *severity;
    if (auto notify = strings_at(alert, "notify")) spec.notify = *notify;
    if (auto repeat = duration_at(alert, "repeat")) spec.repeat = *repeat;
    if (auto resolved = bool_at(alert, "send_resolved")) spec.send_resolved = *resolved;
    rule.alert = spec;
  }
  if (const YAML::Node* top_up_node = map.get("top_up")) {
    rule.top_up = load_top_up(*top_up_node, path + ".top_up", currency,
                              rule.when.kind == core::Condition::Kind::cover_demands);
  }
  config_.rules.push_back(std::move(rule));
  config_.rule_paths.push_back(path);
}

// "50", "50%", "12.5%", "0.25": a percentage as basis points (1 % = 100).
std::optional<std::int32_t> parse_percent(std::string text) {
  if (!text.empty() && text.back() == '%') text.pop_back();
  const auto dot = text.find('.');
  const std::string whole = text.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 3 || fraction.size() > 2 || (dot != std::string::npos && fraction.empty())) return std::nullopt;
  for (char c : whole + fraction) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  while (fraction.size() < 2) fraction.push_back('0');
  return std::stoi(whole) * 100 + std::stoi(fraction);
}

std::optional<core::Rail> Loader::load_rail(const Map& map, const std::string& path, std::optional<Currency> currency) {
  bool complete = true;
  auto method = core::TopUpMethod::direct_debit;
  if (auto text = string_at(map, "method")) {
    if (*text == "direct_debit") method = core::TopUpMethod::direct_debit;
    else if (*text == "sweep") method = core::TopUpMethod::sweep;
    else if (*text == "deposit") method = core::TopUpMethod::deposit;
    else {
      complete = false;
      error(path + ".method", config_.locations.find(path + ".method"),
            fmt::format("unknown method '{}'; expected direct_debit, sweep or deposit", *text));
    }
  } else {
    complete = false;
    if (!map.has("method")) map.missing("method", "direct_debit, sweep or deposit");
  }
  if (method == core::TopUpMethod::deposit) {
    for (const char* key : {"via", "from", "from_account", "keep_in_source", "check_balance_of"}) {
      if (map.has(key)) {
        error(path + "." + key, config_.locations.find(path + "." + key),
              fmt::format("a deposit names its payment in 'pay_with' and its destination in 'to'; remove {}", key));
      }
    }
    std::optional<Money> keep_in_source;
    auto deposit = load_deposit(map, path, keep_in_source, currency);
    if (!deposit || !complete) return std::nullopt;
    core::Rail rail{method, deposit->pay_with.via, deposit->pay_with.from_account, std::nullopt};
    if (deposit->pay_with.kind == core::DepositPayment::Kind::payout) {
      // The paying gateway's watched account is the rail's source: read before it pays.
      rail.check_balance_of = deposit->pay_with.from_account;
      rail.keep_in_source = keep_in_source;
    }
    rail.deposit = std::move(deposit);
    return rail;
  }
  for (const char* key : {"to", "pay_with"}) {
    if (map.has(key)) {
      error(path + "." + key, config_.locations.find(path + "." + key), fmt::format("'{}' is for deposits", key));
    }
  }
  core::Rail rail{method, string_at(map, "via").value_or(""), "", money_at(map, "keep_in_source", currency)};
  rail.check_balance_of = string_at(map, "check_balance_of").value_or("");
  if (method == core::TopUpMethod::sweep) {
    if (auto from = string_at(map, "from")) rail.source = *from;
    else if (!map.has("from")) {
      complete = false;
      map.missing("from", "the account a sweep takes money from");
    }
    if (map.has("from_account")) {
      error(path + ".from_account", config_.locations.find(path + ".from_account"),
            "from_account is for direct_debit; a sweep names its source account in 'from'");
    }
    if (map.has("check_balance_of")) {
      error(path + ".check_balance_of", config_.locations.find(path + ".check_balance_of"),
            "a sweep always reads the balance of its source ('from'); check_balance_of is for direct_debit");
    }
  } else {
    if (auto from_account = string_at(map, "from_account")) rail.source = *from_account;
    if (map.has("from")) {
      error(path + ".from", config_.locations.find(path + ".from"),
            "'from' is for sweeps; a direct debit names the bank account in 'from_account'");
    }
    if (map.has("keep_in_source") && !map.has("check_balance_of")) {
      error(path + ".keep_in_source", config_.locations.find(path + ".keep_in_source"),
            "keep_in_source is what a top-up leaves in a source whose balance topupd reads: a sweep's, or a "
            "direct debit's with check_balance_of");
    }
  }
  if (!complete) return std::nullopt;
  return rail;
}

std::optional<core::TopUpSpec> Loader::load_top_up(const YAML::Node& node, const std::string& path,
                                                   std::optional<Currency> currency, bool covers_demands) {
  Map map(*this, node, path,
          {"method", "via", "from", "from_account", "keep_in_source", "check_balance_of", "to", "pay_with", "rails",
           "amount", "limits", "verify", "stuck_after", "suspend_after"});
  if (!map.valid()) return std::nullopt;
  bool complete = true;
  std::vector<core::Rail> rails;
  if (const YAML::Node* rails_node = map.get("rails")) {
    for (const char* key : {"method", "via", "from", "from_account", "keep_in_source", "check_balance_of", "to",
                            "pay_with"}) {
      if (map.has(key)) {
        error(path + "." + key, config_.locations.find(path + "." + key),
              fmt::format("with 'rails', each rail says its own {}; remove it here", key));
      }
    }
    if (!rails_node->IsSequence() || rails_node->size() == 0 || rails_node->size() > core::kMaxRails) {
      complete = false;
      error(path + ".rails", location_of(rails_node->Mark()),
            fmt::format("expected a list of 1 to {} rails, each {{method: …, …}}, tried in order", core::kMaxRails));
    } else {
      for (std::size_t i = 0; i < rails_node->size(); ++i) {
        const std::string rail_path = fmt::format("{}.rails[{}]", path, i);
        config_.locations.record(rail_path, location_of((*rails_node)[i].Mark()));
        Map rail_map(*this, (*rails_node)[i], rail_path,
                     {"method", "via", "from", "from_account", "keep_in_source", "check_balance_of", "to",
                      "pay_with"});
        std::optional<core::Rail> rail;
        if (rail_map.valid()) rail = load_rail(rail_map, rail_path, currency);
        if (rail) rails.push_back(std::move(*rail));
        else complete = false;
      }
    }
  } else if (auto rail = load_rail(map, path, currency)) {
    rails.push_back(std::move(*rail));
  } else {
    complete = false;
  }
  std::optional<core::AmountSpec> amount_spec;
  if (const YAML::Node* amount_node = map.get("amount")) {
    Map amount(*this, *amount_node, path + ".amount",
               {"to_target", "fixed", "percent_of_source", "min", "max", "round_up_to"});
    int strategies = 0;
    for (const char* key : {"to_target", "fixed", "percent_of_source"}) strategies += amount.has(key) ? 1 : 0;
    if (covers_demands && strategies != 0 && amount.valid()) {
      complete = false;
      error(path + ".amount", amount.location(),
            "a cover_demands rule tops up to what its demands need: amount takes only min, max and round_up_to");
    } else if (!covers_demands && strategies != 1 && amount.valid()) {
      complete = false;
      error(path + ".amount", amount.location(),
            "give exactly one amount strategy: to_target, fixed or percent_of_source");
    }
    std::optional<Money> value;
    std::int32_t basis_points = 0;
    auto kind = core::AmountSpec::Kind::to_target;
    if (covers_demands) {
      value = Money(0, currency.value_or(*Currency::find("IDR")));  // the demands' target, at each evaluation
    } else if (auto target = money_at(amount, "to_target", currency)) {
      value = target;
    } else if (auto fixed = money_at(amount, "fixed", currency)) {
      kind = core::AmountSpec::Kind::fixed;
      value = fixed;
    } else if (const YAML::Node* percent_node = amount.get("percent_of_source")) {
      kind = core::AmountSpec::Kind::percent_of_source;
      if (auto text = scalar(*percent_node, path + ".amount.percent_of_source")) {
        auto parsed = parse_percent(text->text);
        if (!parsed || *parsed <= 0 || *parsed > 10'000) {
          bad_value(path + ".amount.percent_of_source", *percent_node, *text,
                    fmt::format("'{}' must be a percentage in (0, 100], e.g. 50 or 12.5%", text->text),
                    "a percentage in (0, 100]");
        } else {
          basis_points = *parsed;
          value = Money(0, currency.value_or(*Currency::find("IDR")));
        }
      }
    }
    auto min = money_at(amount, "min", currency);
    auto max = money_at(amount, "max", currency);
    auto round_up_to = money_at(amount, "round_up_to", currency);
    if (value) amount_spec = core::AmountSpec{kind, *value, basis_points, round_up_to, min, max};
    else complete = false;
  } else if (covers_demands) {
    amount_spec = core::AmountSpec{core::AmountSpec::Kind::to_target, Money(0, currency.value_or(*Currency::find("IDR"))),
                                   0, std::nullopt, std::nullopt, std::nullopt};
  } else {
    complete = false;
    map.missing("amount", "e.g. {to_target: IDR 50_000_000}");
  }
  core::Limits limits;
  if (const YAML::Node* limits_node = map.get("limits")) {
    Map limit_map(*this, *limits_node, path + ".limits",
                  {"per_day", "per_week", "per_month", "max_per_day", "cooldown", "approval_above", "approval_expires",
                   "dual_approval_above"});
    limits.per_day = money_at(limit_map, "per_day", currency);
    limits.per_week = money_at(limit_map, "per_week", currency);
    limits.per_month = money_at(limit_map, "per_month", currency);
    if (auto count = integer_at(limit_map, "max_per_day", 1, 1'000'000)) limits.max_per_day = static_cast<std::uint32_t>(*count);
    if (auto cooldown = duration_at(limit_map, "cooldown")) limits.cooldown = *cooldown;
    limits.approval_above = money_at(limit_map, "approval_above", currency);
    if (auto expires = duration_at(limit_map, "approval_expires")) limits.approval_expires = *expires;
    limits.dual_approval_above = money_at(limit_map, "dual_approval_above", currency);
  }
  core::Verification verify;
  if (const YAML::Node* verify_node = map.get("verify")) {
    Map verify_map(*this, *verify_node, path + ".verify", {"within", "tolerance"});
    if (auto within = duration_at(verify_map, "within")) verify.within = *within;
    if (auto tolerance = percent_at(verify_map, "tolerance", 0, 100)) verify.tolerance_percent = *tolerance;
  }
  core::Duration stuck_after{core::kDefaultStuckAfter};
  if (auto stuck = duration_at(map, "stuck_after")) stuck_after = *stuck;
  std::uint32_t suspend_after = core::kDefaultSuspendAfter;
  if (auto count = integer_at(map, "suspend_after", 0, 1'000)) suspend_after = static_cast<std::uint32_t>(*count);
  if (!complete || !amount_spec || rails.empty()) return std::nullopt;
  core::Rail& first = rails.front();
  core::TopUpSpec spec{first.method, first.via,   first.source, *amount_spec, first.keep_in_source,
                       limits,       verify,      stuck_after,  suspend_after};
  spec.check_balance_of = first.check_balance_of;
  spec.deposit = first.deposit;
  spec.more_rails.assign(rails.begin() + 1, rails.end());
  return spec;
}

}  // namespace topupd::config::detail
