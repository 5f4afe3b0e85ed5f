// Private to src/brain: the pieces of the daily forecasts, shared with the tree forecaster.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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
  int32_t first_day = 0;  // days since the epoch of y[0] (the tree forecaster's calendar)
  std::span<const double> bulk = {};  // empty, or the part of each day of y from bulk orders
  // Days of bulk that were observed; later ones are forecasts, and the bulk mean of every day
  // beyond them is the mean at their end.
  size_t bulk_known = SIZE_MAX;
  size_t Weekday(size_t i) const { return (i + phase) % kWeek; }
};

double Mean(std::span<const double> values);
double Median(std::vector<double> values);

// Each weekday's mean ratio to its week's mean over the `weeks` whole weeks before day t;
// 1 where unknown.
std::array<double, kWeek> WeekdayFactors(const Series& series, size_t t, int weeks);

// The exponentially smoothed, deseasonalised level before day t times day t's weekday factor.
double Smoothed(const Series& series, size_t t, const ForecastModel& model);

// The regular demand's level before day t times day t's weekday factor, plus the mean bulk
// units per trading day (ForecastModel::split).
double Split(const Series& series, size_t t, const ForecastModel& model);
// The bulk units per trading day over the `bulk_days` days before t (0 without a bulk history).
double BulkMean(const Series& series, size_t t, const ForecastModel& model);

// The forecast of day t from y[0, t) by `model`.
double ForecastOne(const Series& series, size_t t, const ForecastModel& model);

// The tree forecaster: features of day t from y[0, t) (requires t >= 35), its training on the
// days [first, end) that sold, and its forecast of day t (0 on a weekday that never sells).
inline constexpr size_t kDemandFeatures = 20;
struct DemandTreesOptions {
  trees::TrainOptions trees;
  bool log_target = false;  // learn log(demand / level) rather than demand / level
  // Start the trees from the labels' mean (else from XGBoost's fixed base score, 0.5: a small
  // forest then stays between the two, which validation may prefer).
  bool start_at_mean = true;
  // Weigh each training day by its level, so that the loss counts units (as WAPE does) rather
  // than ratios, in which a quiet day weighs as much as a busy one.
  bool weight_by_level = false;
};
void DemandFeatures(const Series& series, size_t t, std::span<float> row);
// The forest learns the labels minus `offset` (with start_at_mean, their mean less XGBoost's
// fixed base score of 0.5, so that its first trees start from the mean; else 0).
struct DemandTrees {
  trees::Forest forest;
  double offset = 0;
};
Result<DemandTrees> TrainDemandTrees(const Series& series, size_t first, size_t end,
                                     const DemandTreesOptions& options);
double PredictDemandTrees(const DemandTrees& model, const DemandTreesOptions& options,
                          const Series& series, size_t t);

}  // namespace surge::brain::internal
