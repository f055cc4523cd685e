// A real Prometheus scraping one topupd, and the dashboard's panel queries asked of it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "integration/harness.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http.hpp"

namespace topupd::testing {

class Prometheus {
 public:
  // Scrapes 127.0.0.1:`target_port` every second; evaluates every second.
  explicit Prometheus(int target_port) : port_(free_port()) {
    dir_.write("prometheus.yml", fmt::format(R"(
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: topupd
    static_configs: [{{targets: ["127.0.0.1:{}"]}}]
)",
                                             target_port));
    process_ = std::make_unique<Process>(
        std::vector<std::string>{TOPUPD_PROMETHEUS, "--config.file=" + dir_.file("prometheus.yml"),
                                 "--storage.tsdb.path=" + dir_.file("data"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
        std::map<std::string, std::string>{}, dir_.file("prometheus.log"));
  }

  bool wait_ready() {
    return eventually([&] { return http_get("127.0.0.1", port_, "/-/ready").status == 200; },
                      std::chrono::seconds(15));
  }
  std::string log() const { return read_file(dir_.file("prometheus.log")); }

  struct Answer {
    std::string title;
    std::string query;
    bool has_data = false;
    std::string body;  // what Prometheus said
  };

  // Every panel query of the dashboard at `path`, with Grafana's macros replaced
  // ($__rate_interval by 10s, $account by .*), and whether it returns any series.
  std::vector<Answer> ask_every_panel(const std::string& path) const {
    std::vector<Answer> answers;
    auto dashboard = adapters::json::parse(read_file(path));
    if (!dashboard) return answers;
    for (const auto& panel : dashboard->find("panels")->items()) {
      const auto* targets = panel.find("targets");
      if (!targets) continue;
      for (const auto& target : targets->items()) {
        std::string expr = *target.string_at("expr");
        for (const auto& [macro, value] : std::vector<std::pair<std::string, std::string>>{
                 {"$__rate_interval", "10s"}, {"$__range", "5m"}, {"$account", ".*"}}) {
          for (auto at = expr.find(macro); at != std::string::npos; at = expr.find(macro)) {
            expr.replace(at, macro.size(), value);
          }
        }
        Answer answer{*panel.string_at("title"), expr, false, ""};
        const auto reply = http_get("127.0.0.1", port_, "/api/v1/query?query=" + adapters::net::url_encode(expr));
        answer.body = reply.body;
        const auto parsed = adapters::json::parse(reply.body);
        const auto* result = parsed ? parsed->at_pointer("/data/result") : nullptr;
        answer.has_data = reply.status == 200 && parsed && parsed->string_at("status") == "success" && result &&
                          result->is_array() && !result->items().empty();
        answers.push_back(std::move(answer));
      }
    }
    return answers;
  }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

}  // namespace topupd::testing
