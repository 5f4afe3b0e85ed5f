// The rolling one-day-ahead evaluation of daily demand forecasts (docs/BRAIN.md).
#include <cmath>
#include <cstdio>

#include "brain/brain.h"

namespace surge::brain {
namespace {

// WAPE of the one-day-ahead forecasts of days [first, first + window) of `y`.
double RollingWape(std::span<const double> y, int32_t first_day, size_t first, size_t window,
                   const ForecastModel& model) {
  std::vector<double> actual, forecast;
  for (size_t t = first; t < first + window; ++t) {
    actual.push_back(y[t]);
    forecast.push_back(ForecastDaily(y.first(t), first_day, 1, model)[0]);
  }
  const Result<double> wape = Wape(actual, forecast);
  return wape.ok() ? *wape : std::nan("");
}

struct Choice {
  ForecastModel model;
  double validation = 0;
};

// The model among `candidates` with the lowest validation WAPE (the first on ties).
Choice Best(std::span<const double> y, int32_t first_day, size_t validation_first, size_t window,
            const std::vector<ForecastModel>& candidates) {
  Choice best{candidates.front(), INFINITY};
  for (const ForecastModel& model : candidates) {
    const double wape = RollingWape(y, first_day, validation_first, window, model);
    if (wape < best.validation) best = {model, wape};
  }
  return best;
}

std::vector<ForecastModel> MedianGrid() {
  std::vector<ForecastModel> grid;
  for (const int weeks : {2, 3, 4, 6, 8}) {
    ForecastModel model;
    model.median_weeks = 1;
    model.weeks_median = weeks;
    grid.push_back(model);
  }
  return grid;
}

std::vector<ForecastModel> SmoothedGrid() {
  std::vector<ForecastModel> grid;
  for (const int weeks : {4, 8, 12, 20}) {
    for (const double alpha : {0.05, 0.1, 0.2, 0.3, 0.5}) {
      ForecastModel model;
      model.smoothed = 1;
      model.weeks_factor = weeks;
      model.alpha = alpha;
      grid.push_back(model);
    }
  }
  return grid;
}

// Blends of the chosen components with weights 0..2 each.
std::vector<ForecastModel> BlendGrid(const ForecastModel& median, const ForecastModel& smoothed) {
  std::vector<ForecastModel> grid;
  for (const double a : {0.0, 1.0, 2.0}) {
    for (const double b : {0.0, 1.0, 2.0}) {
      for (const double c : {0.0, 1.0, 2.0}) {
        if (a + b + c == 0) continue;
        ForecastModel model = smoothed;
        model.weeks_median = median.weeks_median;
        model.last_week = a;
        model.median_weeks = b;
        model.smoothed = c;
        grid.push_back(model);
      }
    }
  }
  return grid;
}

}  // namespace

Result<ForecastEvalReport> EvaluateForecasts(const DailyDemand& demand, int window_days) {
  const auto window = static_cast<size_t>(std::max(window_days, 1));
  if (demand.days() < 2 * window + 16 * 7 || demand.orders.size() != demand.units.size()) {
    return Status(Code::kInvalidArgument, "the daily series has " + std::to_string(demand.days()) +
                                              " days; the evaluation needs two windows of " +
                                              std::to_string(window) +
                                              " days and 16 weeks before them");
  }
  ForecastEvalReport report;
  const size_t test_first = demand.days() - window;
  const size_t validation_first = test_first - window;
  report.test_first_day = demand.first_day + static_cast<int32_t>(test_first);
  report.test_last_day = demand.first_day + static_cast<int32_t>(demand.days() - 1);
  report.validation_first_day = demand.first_day + static_cast<int32_t>(validation_first);

  ForecastModel baseline;
  baseline.last_week = 1;
  const std::vector<ForecastModel> baselines = {baseline};
  struct Series {
    const std::vector<double>* y;
    Choice choices[4];  // baseline, median, smoothed, blend
  };
  Series series[2] = {{&demand.units, {}}, {&demand.orders, {}}};
  for (Series& s : series) {
    s.choices[0] = Best(*s.y, demand.first_day, validation_first, window, baselines);
    s.choices[1] = Best(*s.y, demand.first_day, validation_first, window, MedianGrid());
    s.choices[2] = Best(*s.y, demand.first_day, validation_first, window, SmoothedGrid());
    s.choices[3] = Best(*s.y, demand.first_day, validation_first, window,
                        BlendGrid(s.choices[1].model, s.choices[2].model));
  }
  const char* names[4] = {"same weekday last week", "median of the same weekday",
                          "smoothed level x weekday factor", "blend"};
  for (int m = 0; m < 4; ++m) {
    ForecastResult result;
    result.name = names[m];
    result.units_validation = series[0].choices[m].validation;
    result.orders_validation = series[1].choices[m].validation;
    result.units_test =
        RollingWape(demand.units, demand.first_day, test_first, window, series[0].choices[m].model);
    result.orders_test = RollingWape(demand.orders, demand.first_day, test_first, window,
                                     series[1].choices[m].model);
    report.models.push_back(result);
  }
  report.chosen_units = series[0].choices[3].model;
  report.chosen_orders = series[1].choices[3].model;
  return report;
}

}  // namespace surge::brain
