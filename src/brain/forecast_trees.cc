// Gradient-boosted trees for daily demand: each day's features are lags and recent means of
// the trading days (a day without sales on a weekday that normally sells, a holiday closure,
// is missing rather than a zero that would poison the lags), the simple components' forecasts,
// the weekday and the position in the month and before Christmas, all relative to the level
// of the last four weeks' trading days (so that one model serves any level of demand). The
// target is the day's demand relative to the same level, or its logarithm (whose mean,
// brought back, is a median-like forecast: WAPE is an L1 measure). Closed weekdays forecast 0.
#include <algorithm>
#include <cmath>

#include "brain/forecast_internal.h"
#include "common/assert.h"

namespace surge::brain::internal {
namespace {

// The mean of the days of [begin, end) that sold, 0 if none did.
double TradingMean(std::span<const double> y, size_t begin, size_t end) {
  double sum = 0;
  size_t count = 0;
  for (size_t i = begin; i < end; ++i) {
    if (y[i] > 0) {
      sum += y[i];
      ++count;
    }
  }
  return count > 0 ? sum / static_cast<double>(count) : 0;
}

double Scale(const Series& series, size_t t) {
  return std::max(TradingMean(series.y, t >= 28 ? t - 28 : 0, t), 1e-9);
}

ForecastModel Component(double last_week, double median, double smoothed, double alpha) {
  ForecastModel model;
  model.last_week = last_week;
  model.median_weeks = median;
  model.smoothed = smoothed;
  model.alpha = alpha;
  model.weeks_median = 4;
  model.weeks_factor = 12;
  return model;
}

bool ClosedWeekday(const Series& series, size_t t) {
  return WeekdayFactors(series, t, 12)[series.Weekday(t)] <= 0.05;
}

// Days since the epoch of day t, and its calendar: day of the month and days to the next
// Christmas.
void Calendar(const Series& series, size_t t, float* day_of_month, float* to_christmas) {
  const int32_t epoch_day = series.first_day + static_cast<int32_t>(t);
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  const int32_t z = epoch_day + 719468;
  const int32_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int32_t doe = z - era * 146097;
  const int32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int32_t mp = (5 * doy + 2) / 153;
  const int32_t day = doy - (153 * mp + 2) / 5 + 1;
  const int32_t month = mp < 10 ? mp + 3 : mp - 9;
  *day_of_month = static_cast<float>(day);
  // Days to December 25 of this year (or next, once past it), within a 366-day year.
  const int32_t month_starts[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  const int32_t day_of_year = month_starts[month - 1] + day - 1;
  const int32_t christmas = month_starts[11] + 24;
  *to_christmas = static_cast<float>(day_of_year <= christmas ? christmas - day_of_year
                                                              : christmas + 365 - day_of_year);
}

}  // namespace

void DemandFeatures(const Series& series, size_t t, std::span<float> row) {
  SURGE_ASSERT(row.size() == kDemandFeatures && t >= 35);
  const std::span<const double> y = series.y;
  const double scale = Scale(series, t);
  const auto relative = [&](double value) { return static_cast<float>(value / scale); };
  // A lag on a day that did not sell is missing: a closure, not a level.
  const auto lag = [&](size_t k) { return y[t - k] > 0 ? relative(y[t - k]) : NAN; };
  size_t f = 0;
  for (size_t k = 1; k <= 7; ++k) row[f++] = lag(k);
  row[f++] = lag(14);
  row[f++] = lag(21);
  row[f++] = lag(28);
  row[f++] = relative(TradingMean(y, t - 7, t));
  row[f++] = relative(TradingMean(y, t - 14, t));
  row[f++] = static_cast<float>(TradingMean(y, t - 7, t) /
                                std::max(TradingMean(y, t - 35, t - 28), 1e-9));  // trend
  row[f++] = relative(ForecastOne(series, t, Component(0, 1, 0, 0.3)));
  row[f++] = relative(Smoothed(series, t, Component(0, 0, 1, 0.2)));
  ForecastModel split;  // regular demand and bulk apart (over the series' bulk, if any)
  split.split = 1;
  row[f++] = relative(Split(series, t, split));
  row[f++] = static_cast<float>(WeekdayFactors(series, t, 12)[series.Weekday(t)]);
  row[f++] = static_cast<float>(series.Weekday(t));
  Calendar(series, t, &row[f], &row[f + 1]);
  f += 2;
  SURGE_ASSERT(f == kDemandFeatures);
}

Result<DemandTrees> TrainDemandTrees(const Series& series, size_t first, size_t end,
                                     const DemandTreesOptions& options) {
  SURGE_ASSERT(first >= 35 && first < end && end <= series.y.size());
  std::vector<float> features;
  std::vector<float> labels;
  std::vector<float> weights;
  std::vector<float> row(kDemandFeatures);
  for (size_t t = first; t < end; ++t) {
    // Days without sales (closed weekdays, holidays) teach nothing about a trading day.
    if (series.y[t] <= 0) continue;
    DemandFeatures(series, t, row);
    features.insert(features.end(), row.begin(), row.end());
    const double level = Scale(series, t);
    const double ratio = series.y[t] / level;
    if (options.weight_by_level) weights.push_back(static_cast<float>(level));
    labels.push_back(static_cast<float>(options.log_target ? std::log(ratio) : ratio));
  }
  // Weights of mean 1, so that min_child_weight still counts days.
  double total_weight = 0;
  for (const float weight : weights) total_weight += weight;
  for (float& weight : weights) {
    weight = static_cast<float>(weight * static_cast<double>(weights.size()) / total_weight);
  }
  double mean = 0;
  for (const float label : labels) mean += label;
  mean /= static_cast<double>(std::max<size_t>(labels.size(), 1));
  const double offset = options.start_at_mean ? mean - 0.5 : 0.0;  // XGBoost starts at 0.5
  for (float& label : labels) label = static_cast<float>(label - offset);
  trees::Dataset data;
  data.rows = labels.size();
  data.columns = kDemandFeatures;
  data.features = features;
  data.labels = labels;
  data.weights = weights;
  SURGE_ASSIGN_OR_RETURN(trees::Forest forest, trees::Forest::Train(data, options.trees));
  return DemandTrees{std::move(forest), offset};
}

double PredictDemandTrees(const DemandTrees& model, const DemandTreesOptions& options,
                          const Series& series, size_t t) {
  if (ClosedWeekday(series, t)) return 0;
  std::vector<float> row(kDemandFeatures);
  DemandFeatures(series, t, row);
  float score = 0;
  model.forest.Predict(row, kDemandFeatures, std::span<float>(&score, 1), /*threads=*/1);
  const double label = static_cast<double>(score) + model.offset;
  const double ratio = options.log_target ? std::exp(label) : label;
  return std::max(0.0, ratio * Scale(series, t));
}

}  // namespace surge::brain::internal
