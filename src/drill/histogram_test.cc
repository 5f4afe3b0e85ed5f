#include "drill/histogram.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace surge::drill {
namespace {

TEST(HistogramTest, IndexAndUpperBoundAgreeEverywhere) {
  // Every value lies at or below the upper bound of its bucket and above the previous bucket's.
  for (uint64_t value : {0ULL, 1ULL, 63ULL, 64ULL, 65ULL, 127ULL, 128ULL, 1000ULL, 123456ULL,
                         (1ULL << 40) + 12345}) {
    const size_t index = Histogram::Index(value);
    EXPECT_LE(value, Histogram::UpperBound(index)) << value;
    if (index > 0) {
      EXPECT_GT(value, Histogram::UpperBound(index - 1)) << value;
    }
  }
}

TEST(HistogramTest, QuantilesStayWithinTwoPercentOfExact) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(6.0, 1.5);  // a long tail around 400 us
  std::vector<uint64_t> values;
  Histogram histogram;
  for (int i = 0; i < 200'000; ++i) {
    const auto value = static_cast<uint64_t>(latency(random));
    values.push_back(value);
    histogram.Record(value);
  }
  std::sort(values.begin(), values.end());
  for (double quantile : {0.5, 0.9, 0.99, 0.999}) {
    const uint64_t exact = values[static_cast<size_t>(quantile * (values.size() - 1))];
    const uint64_t estimate = histogram.Quantile(quantile);
    EXPECT_NEAR(static_cast<double>(estimate), static_cast<double>(exact),
                std::max(2.0, 0.02 * static_cast<double>(exact)))
        << "quantile " << quantile;
  }
  EXPECT_EQ(histogram.Quantile(1.0), values.back());
  EXPECT_EQ(histogram.count(), values.size());
}

TEST(HistogramTest, AddMergesCounts) {
  Histogram a, b;
  for (int i = 0; i < 100; ++i) a.Record(10);
  for (int i = 0; i < 100; ++i) b.Record(1'000'000);
  a.Add(b);
  EXPECT_EQ(a.count(), 200u);
  EXPECT_EQ(a.Quantile(0.25), 10u);
  EXPECT_NEAR(static_cast<double>(a.Quantile(0.75)), 1e6, 2e4);
  EXPECT_EQ(a.max(), 1'000'000u);
}

}  // namespace
}  // namespace surge::drill
