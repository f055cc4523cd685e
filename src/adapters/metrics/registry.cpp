// The registry and the text exposition format (registry.hpp).
#include "topupd/adapters/metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace topupd::adapters::metrics {

namespace {

void append_escaped(std::string& out, std::string_view text, bool quote_too) {
  for (const char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote_too) out += "\\\"";
    else out += c;
  }
}

std::string label_text(const std::vector<std::string>& names, std::initializer_list<std::string_view> values) {
  if (names.size() != values.size()) throw std::logic_error("metrics: wrong number of label values");
  if (names.empty()) return "";
  std::string out = "{";
  std::size_t i = 0;
  for (const std::string_view value : values) {
    if (i) out += ',';
    out += names[i++];
    out += "=\"";
    append_escaped(out, value, true);
    out += '"';
  }
  out += '}';
  return out;
}

// `name{labels,le="…"}`: a bucket's line name; `labels` is `{…}` or empty.
void append_with_le(std::string& out, std::string_view name, std::string_view labels, std::string_view le) {
  out += name;
  out += "_bucket{";
  if (!labels.empty()) {
    out.append(labels.substr(1, labels.size() - 2));
    out += ',';
  }
  out += le;
  out += "} ";
}

}  // namespace

void append_sample(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", value);
  }
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::observe(double value) {
  std::size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Family::Family(std::shared_mutex& lock, std::string name, std::string help, Kind kind,
               std::vector<std::string> labels, std::vector<double> bounds)
    : lock_(lock), name_(std::move(name)), help_(std::move(help)), kind_(kind), label_names_(std::move(labels)),
      bounds_(std::move(bounds)) {
  for (const double bound : bounds_) {
    std::string le = "le=\"";
    append_sample(le, bound);
    bound_text_.push_back(le + "\"");
  }
  bound_text_.push_back("le=\"+Inf\"");
}

Family::Series& Family::find_or_add(std::initializer_list<std::string_view> labels) {
  std::string key = label_text(label_names_, labels);
  {
    std::shared_lock reading(lock_);
    if (auto it = series_.find(key); it != series_.end()) return it->second;
  }
  // Only the event loop adds, so nobody added this series since the look above.
  Series series;
  series.labels = key;
  if (kind_ == Kind::histogram) series.histogram = std::make_unique<Histogram>(bounds_);
  else series.value = std::make_unique<Value>();
  const void* address = series.histogram ? static_cast<const void*>(series.histogram.get()) : series.value.get();
  // Indexed first (only this thread reads the index): if adding the series throws, the
  // index entry goes again and nothing is half added.
  const auto indexed = by_address_.emplace(address, series_.end()).first;
  try {
    std::unique_lock writing(lock_);
    indexed->second = series_.emplace(std::move(key), std::move(series)).first;
    ++version_;
  } catch (...) {
    by_address_.erase(indexed);
    throw;
  }
  return indexed->second->second;
}

Value& Family::value(std::initializer_list<std::string_view> labels) {
  if (kind_ == Kind::histogram) throw std::logic_error("metrics: " + name_ + " is a histogram");
  return *find_or_add(labels).value;
}

Histogram& Family::histogram(std::initializer_list<std::string_view> labels) {
  if (kind_ != Kind::histogram) throw std::logic_error("metrics: " + name_ + " is not a histogram");
  return *find_or_add(labels).histogram;
}

void Family::erase(SeriesMap::iterator it) {
  const Series& series = it->second;
  by_address_.erase(series.histogram ? static_cast<const void*>(series.histogram.get()) : series.value.get());
  series_.erase(it);
  ++version_;
}

void Family::remove_where(const void* series) {
  std::unique_lock writing(lock_);
  if (const auto found = by_address_.find(series); found != by_address_.end()) erase(found->second);
}

void Family::remove(const Value& series) { remove_where(&series); }
void Family::remove(const Histogram& series) { remove_where(&series); }

void Family::remove(std::initializer_list<std::string_view> labels) {
  const std::string key = label_text(label_names_, labels);
  std::unique_lock writing(lock_);
  if (const auto it = series_.find(key); it != series_.end()) erase(it);
}

std::size_t Family::size() const {
  std::shared_lock reading(lock_);
  return series_.size();
}

void Family::write(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped(out, help_, false);
  out += "\n# TYPE ";
  out += name_;
  out += kind_ == Kind::counter ? " counter\n" : kind_ == Kind::gauge ? " gauge\n" : " histogram\n";
  if (kind_ != Kind::histogram) {
    std::lock_guard laying_out(layout_mutex_);
    if (layout_version_ != version_) {
      prefixes_.clear();
      lines_.clear();
      lines_.reserve(series_.size());
      for (const auto& [labels, series] : series_) {
        const std::size_t offset = prefixes_.size();
        prefixes_ += name_;
        prefixes_ += labels;
        prefixes_ += ' ';
        lines_.push_back({offset, prefixes_.size() - offset, series.value.get()});
      }
      layout_version_ = version_;
    }
    for (const Line& line : lines_) {
      out.append(prefixes_, line.offset, line.length);
      append_sample(out, line.value->get());
      out += '\n';
    }
    return;
  }
  for (const auto& [labels, series] : series_) {
    const Histogram& h = *series.histogram;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bound_text_.size(); ++i) {
      cumulative += h.counts_[i].load(std::memory_order_relaxed);
      append_with_le(out, name_, labels, bound_text_[i]);
      fmt::format_to(std::back_inserter(out), "{}\n", cumulative);
    }
    out += name_;
    out += "_sum";
    out += labels;
    out += ' ';
    append_sample(out, h.sum_.load(std::memory_order_relaxed));
    out += '\n';
    out += name_;
    out += "_count";
    out += labels;
    fmt::format_to(std::back_inserter(out), " {}\n", cumulative);
  }
}

Family& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  std::unique_lock writing(lock_);
  return *families_.emplace_back(std::make_unique<Family>(lock_, std::move(name), std::move(help),
                                                          Family::Kind::counter, std::move(labels),
                                                          std::vector<double>{}));
}

Family& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  std::unique_lock writing(lock_);
  return *families_.emplace_back(std::make_unique<Family>(lock_, std::move(name), std::move(help),
                                                          Family::Kind::gauge, std::move(labels),
                                                          std::vector<double>{}));
}

Family& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                            std::vector<double> bounds) {
  std::unique_lock writing(lock_);
  return *families_.emplace_back(std::make_unique<Family>(lock_, std::move(name), std::move(help),
                                                          Family::Kind::histogram, std::move(labels),
                                                          std::move(bounds)));
}

std::string Registry::serialize() const {
  std::string out;
  std::shared_lock reading(lock_);
  std::size_t series = 0;
  for (const auto& family : families_) series += family->series_.size();
  // Room for the whole text at once, and for what a caller appends: a few megabytes at
  // 10,000 accounts, copied again at every growth of the string otherwise.
  const std::size_t last = last_size_.load(std::memory_order_relaxed);
  out.reserve(std::max(series * 64 + families_.size() * 128, last + last / 8 + 4096));
  for (const auto& family : families_) family->write(out);
  last_size_.store(out.size(), std::memory_order_relaxed);
  return out;
}

}  // namespace topupd::adapters::metrics
