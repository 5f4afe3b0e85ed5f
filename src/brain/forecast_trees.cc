// Gradient-boosted trees over the simple forecasts: each day's features are the components'
// forecasts and recent means, all relative to the last four weeks' mean (so that one model
// serves any level of demand), and the weekday; the target is the day's demand relative to the
// same scale.
#include <cmath>

#include "brain/forecast_internal.h"
#include "common/assert.h"

namespace surge::brain::internal {
namespace {

double Scale(const Series& series, size_t t) {
  const size_t begin = t >= 28 ? t - 28 : 0;
  return std::max(Mean(series.y.subspan(begin, t - begin)), 1e-9);
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

}  // namespace

void DemandFeatures(const Series& series, size_t t, std::span<float> row) {
  SURGE_ASSERT(row.size() == kDemandFeatures && t >= 35);
  const std::span<const double> y = series.y;
  const double scale = Scale(series, t);
  const auto relative = [&](double value) { return static_cast<float>(value / scale); };
  size_t f = 0;
  row[f++] = relative(ForecastOne(series, t, Component(1, 0, 0, 0.3)));
  row[f++] = relative(ForecastOne(series, t, Component(0, 1, 0, 0.3)));
  row[f++] = relative(Smoothed(series, t, Component(0, 0, 1, 0.1)));
  row[f++] = relative(Smoothed(series, t, Component(0, 0, 1, 0.3)));
  row[f++] = relative(Mean(y.subspan(t - 7, 7)));
  row[f++] = relative(y[t - 1]);
  row[f++] = relative(y[t - 2]);
  row[f++] = static_cast<float>(WeekdayFactors(series, t, 12)[series.Weekday(t)]);
  // Recent trend: the last week against the week a month before.
  const double month_ago = Mean(y.subspan(t - 35, 7));
  row[f++] = month_ago > 0 ? static_cast<float>(Mean(y.subspan(t - 7, 7)) / month_ago) : NAN;
  for (size_t weekday = 0; weekday < static_cast<size_t>(kWeek); ++weekday) {
    row[f++] = series.Weekday(t) == weekday ? 1.0f : 0.0f;
  }
  SURGE_ASSERT(f == kDemandFeatures);
}

Result<trees::Forest> TrainDemandTrees(const Series& series, size_t first, size_t end,
                                       const trees::TrainOptions& options) {
  SURGE_ASSERT(first >= 35 && first < end && end <= series.y.size());
  std::vector<float> features((end - first) * kDemandFeatures);
  std::vector<float> labels;
  for (size_t t = first; t < end; ++t) {
    DemandFeatures(series, t,
                   std::span<float>(&features[(t - first) * kDemandFeatures], kDemandFeatures));
    labels.push_back(static_cast<float>(series.y[t] / Scale(series, t)));
  }
  trees::Dataset data;
  data.rows = labels.size();
  data.columns = kDemandFeatures;
  data.features = features;
  data.labels = labels;
  return trees::Forest::Train(data, options);
}

double PredictDemandTrees(const trees::Forest& forest, const Series& series, size_t t) {
  std::vector<float> row(kDemandFeatures);
  DemandFeatures(series, t, row);
  float score = 0;
  forest.Predict(row, kDemandFeatures, std::span<float>(&score, 1), /*threads=*/1);
  return std::max(0.0, static_cast<double>(score) * Scale(series, t));
}

}  // namespace surge::brain::internal
