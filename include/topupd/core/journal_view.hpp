// A view of the top-up journal: the records a decision reads, in journal order.
//
// Either the whole journal, or the records at some of its positions (those of one
// account, or of one rule, that the daemon indexes), so that a poll reads its own
// account's few records and not every record of the other 10,000. A function given a
// view still checks each record's account or rule: a view may hold more records than it
// needs (the whole journal, as `simulate` passes it), never fewer.
#pragma once

#include <cstddef>
#include <iterator>
#include <span>
#include <vector>

#include "topupd/core/topup.hpp"

namespace topupd::core {

class JournalView {
 public:
  // The whole journal (implicit: wherever a journal was passed, it still can be).
  JournalView(std::span<const TopUpRecord> records) : records_(records), size_(records.size()) {}
  JournalView(const std::vector<TopUpRecord>& records) : JournalView(std::span<const TopUpRecord>(records)) {}
  // The records whose sequence numbers are `picked` (ascending), where `records[i]` has
  // the number `first + i`.
  JournalView(std::span<const TopUpRecord> records, std::span<const std::size_t> picked, std::size_t first)
      : records_(records), picked_(picked), first_(first), size_(picked.size()), indexed_(true) {}

  class iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = TopUpRecord;
    using difference_type = std::ptrdiff_t;
    using pointer = const TopUpRecord*;
    using reference = const TopUpRecord&;

    iterator() = default;
    iterator(const JournalView* view, std::size_t at) : view_(view), at_(at) {}
    reference operator*() const { return (*view_)[at_]; }
    pointer operator->() const { return &(*view_)[at_]; }
    iterator& operator++() {
      ++at_;
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++at_;
      return before;
    }
    iterator& operator--() {
      --at_;
      return *this;
    }
    iterator operator--(int) {
      iterator before = *this;
      --at_;
      return before;
    }
    bool operator==(const iterator& other) const { return at_ == other.at_; }

   private:
    const JournalView* view_ = nullptr;
    std::size_t at_ = 0;
  };

  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size_}; }
  std::reverse_iterator<iterator> rbegin() const { return std::reverse_iterator<iterator>(end()); }
  std::reverse_iterator<iterator> rend() const { return std::reverse_iterator<iterator>(begin()); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const TopUpRecord& operator[](std::size_t i) const {
    return indexed_ ? records_[picked_[i] - first_] : records_[i];
  }

 private:
  std::span<const TopUpRecord> records_;
  std::span<const std::size_t> picked_;
  std::size_t first_ = 0;
  std::size_t size_ = 0;
  bool indexed_ = false;
};

}  // namespace topupd::core
