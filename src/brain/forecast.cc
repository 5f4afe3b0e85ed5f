// Daily demand forecasts: a blend of the same weekday last week, the median of the same weekday
// over recent weeks, and an exponentially smoothed level times a weekday factor.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "brain/brain.h"
#include "brain/forecast_internal.h"
#include "common/assert.h"

namespace surge::brain {
namespace internal {
namespace {

constexpr size_t kSmoothingDays = 84;  // the level is smoothed over the last 12 weeks

}  // namespace

double Mean(std::span<const double> values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (const double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(middle), values.end());
  if (values.size() % 2 == 1) return values[middle];
  const double upper = values[middle];
  const double lower =
      *std::max_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(middle));
  return (lower + upper) / 2;
}

std::array<double, kWeek> WeekdayFactors(const Series& series, size_t t, int weeks) {
  const std::span<const double> y = series.y;
  std::array<double, kWeek> sum{}, count{};
  for (int k = 1; k <= weeks && t >= static_cast<size_t>(kWeek * k); ++k) {
    const size_t begin = t - static_cast<size_t>(kWeek * k);
    const double mean = Mean(y.subspan(begin, kWeek));
    if (mean <= 0) continue;
    for (size_t i = begin; i < begin + kWeek; ++i) {
      sum[series.Weekday(i)] += y[i] / mean;
      count[series.Weekday(i)] += 1;
    }
  }
  std::array<double, kWeek> factor;
  for (int w = 0; w < kWeek; ++w) factor[w] = count[w] > 0 ? sum[w] / count[w] : 1.0;
  return factor;
}

double Smoothed(const Series& series, size_t t, const ForecastModel& model) {
  const std::span<const double> y = series.y;
  const auto factor = WeekdayFactors(series, t, model.weeks_factor);
  double level = 0;
  bool started = false;
  for (size_t i = t > kSmoothingDays ? t - kSmoothingDays : 0; i < t; ++i) {
    // Days that hardly ever sell (a closed weekday) say nothing about the level.
    const double f = factor[series.Weekday(i)];
    if (f <= 0.05) continue;
    const double x = y[i] / f;
    level = started ? model.alpha * x + (1 - model.alpha) * level : x;
    started = true;
  }
  return level * factor[series.Weekday(t)];
}

double BulkMean(const Series& series, size_t t, const ForecastModel& model) {
  if (series.bulk.empty()) return 0;
  t = std::min(t, series.bulk_known);
  const size_t from = t > static_cast<size_t>(model.bulk_days) ? t - model.bulk_days : 0;
  double bulk = 0, trading = 0;
  for (size_t i = from; i < t; ++i) {
    bulk += series.bulk[i];
    trading += series.y[i] > 0 ? 1 : 0;
  }
  return trading > 0 ? bulk / trading : 0;
}

double Split(const Series& series, size_t t, const ForecastModel& model) {
  // The regular demand of the weeks the factors and the level read (a copy: y less bulk).
  constexpr size_t kFactorWeeks = 12;
  const size_t span = std::max<size_t>(kFactorWeeks * kWeek, kSmoothingDays);
  const size_t begin = t > span ? t - span : 0;
  std::vector<double> regular(series.y.begin() + static_cast<ptrdiff_t>(begin),
                              series.y.begin() + static_cast<ptrdiff_t>(t));
  if (!series.bulk.empty()) {
    SURGE_ASSERT(series.bulk.size() >= t);
    for (size_t i = begin; i < t; ++i) regular[i - begin] -= series.bulk[i];
  }
  const Series window{regular, (series.phase + begin) % kWeek};
  const auto factor = WeekdayFactors(window, t - begin, kFactorWeeks);
  const double today = factor[series.Weekday(t)];
  if (today <= 0.05) return 0;  // a weekday that hardly ever sells
  // The deseasonalised mean of the last level_days trading days.
  double sum = 0;
  int count = 0;
  for (size_t i = t - begin; i-- > 0 && count < model.level_days;) {
    const double f = factor[window.Weekday(i)];
    if (f <= 0.05 || regular[i] <= 0) continue;
    sum += regular[i] / f;
    ++count;
  }
  return (count > 0 ? sum / count * today : 0) + BulkMean(series, t, model);
}

double ForecastOne(const Series& series, size_t t, const ForecastModel& model) {
  const std::span<const double> y = series.y;
  if (t == 0) return 0;
  if (t < static_cast<size_t>(kWeek)) return Mean(y.first(t));
  double total = 0, weight = 0;
  if (model.last_week > 0) {
    total += model.last_week * y[t - kWeek];
    weight += model.last_week;
  }
  if (model.median_weeks > 0) {
    std::vector<double> same;
    for (int k = 1; k <= model.weeks_median && t >= static_cast<size_t>(kWeek * k); ++k) {
      same.push_back(y[t - static_cast<size_t>(kWeek * k)]);
    }
    total += model.median_weeks * Median(std::move(same));
    weight += model.median_weeks;
  }
  if (model.smoothed > 0) {
    total += model.smoothed * Smoothed(series, t, model);
    weight += model.smoothed;
  }
  if (model.split > 0) {
    total += model.split * Split(series, t, model);
    weight += model.split;
  }
  return weight > 0 ? std::max(0.0, total / weight) : 0;
}

}  // namespace internal

std::vector<double> ForecastDaily(std::span<const double> history,
                                  std::span<const double> bulk_history, int32_t first_day,
                                  int horizon, const ForecastModel& model) {
  SURGE_ASSERT(horizon >= 0);
  SURGE_ASSERT(model.last_week >= 0 && model.median_weeks >= 0 && model.smoothed >= 0 &&
               model.split >= 0 && model.level_days >= 1 && model.bulk_days >= 1);
  SURGE_ASSERT(bulk_history.empty() || bulk_history.size() == history.size());
  const auto phase =
      static_cast<size_t>(((first_day % internal::kWeek) + internal::kWeek) % internal::kWeek);
  std::vector<double> y(history.begin(), history.end());
  std::vector<double> bulk(bulk_history.begin(), bulk_history.end());
  std::vector<double> forecast;
  for (int h = 0; h < horizon; ++h) {
    const internal::Series series{y, phase, first_day, bulk, bulk_history.size()};
    const double value = internal::ForecastOne(series, y.size(), model);
    forecast.push_back(value);
    // Days beyond the history carry their own forecasts; of each, what is beyond the regular
    // demand's own forecast counts as bulk, so the regular level carries on unchanged (and the
    // bulk mean stays that of the history's end, bulk_known).
    if (!bulk.empty()) {
      const double regular =
          internal::Split(series, y.size(), model) - internal::BulkMean(series, y.size(), model);
      bulk.push_back(std::max(0.0, value - regular));
    }
    y.push_back(value);
  }
  return forecast;
}

}  // namespace surge::brain
