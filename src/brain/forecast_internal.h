// Private to src/brain: the pieces of the daily forecasts, shared with the tree forecaster.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "brain/brain.h"
#include "trees/trees.h"

namespace surge::brain::internal {

inline constexpr int kWeek = 7;

// A daily series; day i falls on weekday (i + phase) % 7.
struct Series {
  std::span<const double> y;
  size_t phase = 0;
  size_t Weekday(size_t i) const { return (i + phase) % kWeek; }
};

double Mean(std::span<const double> values);
double Median(std::vector<double> values);

// Each weekday's mean ratio to its week's mean over the `weeks` whole weeks before day t;
// 1 where unknown.
std::array<double, kWeek> WeekdayFactors(const Series& series, size_t t, int weeks);

// The exponentially smoothed, deseasonalised level before day t times day t's weekday factor.
double Smoothed(const Series& series, size_t t, const ForecastModel& model);

// The forecast of day t from y[0, t) by `model`.
double ForecastOne(const Series& series, size_t t, const ForecastModel& model);

// The tree forecaster: features of day t from y[0, t) (requires t >= 35), its training on the
// days [first, end), and its forecast of day t.
inline constexpr size_t kDemandFeatures = 16;
void DemandFeatures(const Series& series, size_t t, std::span<float> row);
Result<trees::Forest> TrainDemandTrees(const Series& series, size_t first, size_t end,
                                       const trees::TrainOptions& options);
double PredictDemandTrees(const trees::Forest& forest, const Series& series, size_t t);

}  // namespace surge::brain::internal
