// A small value-or-error type for expected failures (C++20 has no std::expected).
// It is [[nodiscard]]: an ignored result is an ignored failure, and the build says so.
#pragma once

#include <utility>
#include <variant>

namespace topupd::core {

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : storage_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return storage_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<0>(storage_); }
  const T& value() const { return std::get<0>(storage_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const { return std::get<1>(storage_); }

 private:
  std::variant<T, E> storage_;
};

}  // namespace topupd::core
