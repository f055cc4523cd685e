// A Prometheus registry of topupd's own: families of counters, gauges and histograms
// whose label values are fixed when a series is added, written in the text exposition
// format (version 0.0.4) straight into one string.
//
// Threads: the event loop adds, finds, updates and removes series; serialize() runs
// on another thread at the same time. A value is an atomic, so an update takes no
// lock; finding a series and serializing share a lock, and only adding or removing
// one takes it alone, so a series is never freed while it is read.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace topupd::adapters::metrics {

// A counter's or a gauge's value. Samples are floating point by definition of the
// exposition format; an amount arrives here already converted, at the edge
// (metrics.cpp's as_sample), and nothing reads it back as money.
class Value {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending, without +Inf; owned by the family.
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double value);

 private:
  friend class Family;
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative; +Inf last
  std::atomic<double> sum_{0};
};

class Family {
 public:
  enum class Kind { counter, gauge, histogram };

  Family(std::shared_mutex& lock, std::string name, std::string help, Kind kind, std::vector<std::string> labels,
         std::vector<double> bounds);

  // The series with these label values (in the order of the family's label names),
  // added at 0 if it is new. The reference stays valid until the series is removed.
  Value& value(std::initializer_list<std::string_view> labels);
  Histogram& histogram(std::initializer_list<std::string_view> labels);
  // Removes the series that `value(...)` or `histogram(...)` returned; found by its
  // address, without a walk of the family (an instance giving up 20,000 of 30,000
  // accounts walked it for each of their series, and held the event loop 20 s).
  void remove(const Value& series);
  void remove(const Histogram& series);
  // Removes the series with these label values, if there is one.
  void remove(std::initializer_list<std::string_view> labels);
  std::size_t size() const;

 private:
  friend class Registry;
  void write(std::string& out) const;  // the caller holds the registry's lock
  struct Series {
    std::string labels;  // `{name="value",…}` as written, or empty
    std::unique_ptr<Value> value;
    std::unique_ptr<Histogram> histogram;
  };
  using SeriesMap = std::map<std::string, Series, std::less<>>;
  Series& find_or_add(std::initializer_list<std::string_view> labels);
  void remove_where(const void* series);
  void erase(SeriesMap::iterator it);  // the caller holds the lock alone

  std::shared_mutex& lock_;
  std::string name_;
  std::string help_;
  Kind kind_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  std::vector<std::string> bound_text_;  // `le="0.005"` for each bound, then `le="+Inf"`
  SeriesMap series_;  // by labels: the output is sorted
  // Each series by the address of its value or histogram, for remove(series).
  std::unordered_map<const void*, SeriesMap::iterator> by_address_;
  std::uint64_t version_ = 0;  // counts adds and removes; changed under the lock held alone

  // A counter's or gauge's lines as the last write laid them out: every `name{labels} `
  // in one string, in order, beside its value. Walking 10,000 map nodes (and their
  // label strings) at every scrape costs a cache miss each; this is rebuilt only after
  // the family changed.
  struct Line {
    std::size_t offset;
    std::size_t length;
    const Value* value;
  };
  mutable std::mutex layout_mutex_;  // write() runs under the registry's shared lock
  mutable std::string prefixes_;
  mutable std::vector<Line> lines_;
  mutable std::uint64_t layout_version_ = ~std::uint64_t{0};
};

class Registry {
 public:
  Family& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  Family& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family& histogram(std::string name, std::string help, std::vector<std::string> labels, std::vector<double> bounds);

  // Every family in the order registered.
  std::string serialize() const;

 private:
  mutable std::shared_mutex lock_;
  std::vector<std::unique_ptr<Family>> families_;
  mutable std::atomic<std::size_t> last_size_{0};  // of the last text serialized
};

// A sample as the exposition format writes it: shortest round-trip form, +Inf, -Inf, NaN.
void append_sample(std::string& out, double value);

}  // namespace topupd::adapters::metrics
