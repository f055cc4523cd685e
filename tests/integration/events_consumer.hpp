// The backend consumer of topupd's events (peers/events_consumer.js, on the
// standardwebhooks npm package): what it logged of each delivery.
#pragma once

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace topupd::testing {

inline constexpr const char* kEventsSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Delivery {
  std::string id;
  std::string type;
  bool verified = false;
  bool tampered_refused = false;
  int status = 0;
  std::string line;
};

inline std::vector<Delivery> deliveries(const std::string& log) {
  std::vector<Delivery> out;
  const std::regex line(R"#(\{"id":"([^"]*)","type":"([^"]*)","verified":(true|false),"tampered_refused":(true|false),"status":(\d+).*)#");
  std::istringstream in(log);
  for (std::string text; std::getline(in, text);) {
    std::smatch m;
    if (std::regex_match(text, m, line)) {
      out.push_back({m[1], m[2], m[3] == "true", m[4] == "true", std::stoi(m[5]), text});
    }
  }
  return out;
}

}  // namespace topupd::testing
