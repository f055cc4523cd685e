// JSON for gateway wire formats: a small DOM that keeps every number as the exact
// text it was written with, so an amount such as 123000.12 reaches `Money` without
// ever passing through a double. Parsing is bounded (depth, size) and never throws.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace topupd::adapters {

// A JSON string literal, quoted and escaped (control characters as \u00XX).
std::string json_string(std::string_view text);

namespace json {

class Value {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Value() = default;
  static Value boolean(bool value);
  static Value number(std::string text);  // must already be a valid JSON number
  static Value number(long long value);
  static Value string(std::string text);
  static Value array();
  static Value object();

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_number() const { return kind_ == Kind::number; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_object() const { return kind_ == Kind::object; }
  bool is_array() const { return kind_ == Kind::array; }
  bool as_bool() const { return kind_ == Kind::boolean && flag_; }
  // A number's literal text, or a string's decoded text.
  const std::string& text() const { return text_; }
  const std::vector<Value>& items() const { return items_; }
  const std::vector<std::pair<std::string, Value>>& members() const { return members_; }

  // The member `key` of an object (first one if repeated); nullptr otherwise.
  const Value* find(std::string_view key) const;
  // The string member `key`, or nullopt when absent or not a string.
  std::optional<std::string> string_at(std::string_view key) const;
  // RFC 6901 JSON Pointer ("/data/balance/0/amount"); "" is the value itself.
  const Value* at_pointer(std::string_view pointer) const;

  Value& set(std::string key, Value value);  // appends; objects only
  Value& push(Value value);                  // arrays only
  Value& reserve(std::size_t members);       // objects only: room for that many members

  // Compact text: no insignificant whitespace, members in insertion order.
  std::string serialize() const;

 private:
  void write(std::string& out) const;

  Kind kind_ = Kind::null;
  bool flag_ = false;
  std::string text_;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;
};

// Parses one JSON document (RFC 8259). Returns nullopt on any syntax error, on
// nesting deeper than `max_depth`, or on trailing content.
std::optional<Value> parse(std::string_view text, std::size_t max_depth = 64);

}  // namespace json
}  // namespace topupd::adapters
