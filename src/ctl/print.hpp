// topupctl's printing of the daemon's answers: tables for people, CSV for spreadsheets.
// Private to src/ctl.
#pragma once

#include <string>

#include <boost/json.hpp>

namespace topupctl {

namespace json = boost::json;

// A value as one cell: strings bare, null as "-".
std::string str(const json::value& v);
std::string csv_field(const std::string& value);

void print_status(const json::object& status);
void print_tickets(const json::object& answer);
void print_tokens(const json::object& answer);
void print_history(const json::object& history, bool csv);
void print_users(const json::object& answer);
void print_audit(const json::object& answer, bool csv);

}  // namespace topupctl
