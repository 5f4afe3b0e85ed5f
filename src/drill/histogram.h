// A log-linear latency histogram (the HdrHistogram layout): values in microseconds are bucketed
// by their power of two, and each power of two is split into kSubBuckets / 2 linear steps, so every
// recorded value is kept within 2/kSubBuckets (about 1.6 %) of its true value, from 1 us to
// centuries, in a fixed 30 KiB. Recording is a few instructions and never allocates.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace surge::drill {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kMagnitudes = 64 - kSubBucketBits;

  void Record(uint64_t value_us) {
    counts_[Index(value_us)]++;
    ++total_;
    max_ = std::max(max_, value_us);
    sum_ += value_us;
  }

  void Add(const Histogram& other) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
  }

  // The value at `quantile` (0..1): the upper bound of the bucket holding that rank, capped at the
  // largest recorded value so that p100 is exact.
  uint64_t Quantile(double quantile) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(quantile * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(UpperBound(i), max_);
    }
    return max_;
  }

  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ == 0 ? 0 : static_cast<double>(sum_) / total_; }

  static size_t Index(uint64_t value) {
    if (value < kSubBuckets) return static_cast<size_t>(value);
    const int magnitude = 63 - std::countl_zero(value) - kSubBucketBits + 1;  // >= 1 here
    const uint64_t sub = value >> magnitude;  // in [kSubBuckets/2, kSubBuckets)
    const size_t index = static_cast<size_t>(magnitude) * (kSubBuckets / 2) + sub;
    return std::min(index, static_cast<size_t>(kMagnitudes * kSubBuckets / 2 + kSubBuckets - 1));
  }

  static uint64_t UpperBound(size_t index) {
    if (index < kSubBuckets) return index;
    const size_t magnitude = (index - kSubBuckets / 2) / (kSubBuckets / 2);
    const uint64_t sub = index - magnitude * (kSubBuckets / 2);
    return ((sub + 1) << magnitude) - 1;
  }

 private:
  std::array<uint64_t, kMagnitudes * kSubBuckets / 2 + kSubBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace surge::drill
