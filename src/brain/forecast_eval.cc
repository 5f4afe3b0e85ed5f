// The rolling one-day-ahead evaluation of daily demand forecasts (docs/BRAIN.md).
#include <cmath>
#include <cstdio>
#include <string>

#include "brain/brain.h"
#include "brain/forecast_internal.h"

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

constexpr size_t kTreesFirstDay = 112;  // the trees learn from the days after the first 16 weeks

double WapeOf(std::span<const double> actual, std::span<const double> forecast) {
  const Result<double> wape = Wape(actual, forecast);
  return wape.ok() ? *wape : std::nan("");
}

// One-day-ahead forecasts of days [first, first + window) by trees trained on the days before
// `first`.
Result<std::vector<double>> TreeForecasts(std::span<const double> y, int32_t first_day,
                                          size_t first, size_t window,
                                          const internal::DemandTreesOptions& options) {
  const internal::Series series{y, static_cast<size_t>(((first_day % 7) + 7) % 7), first_day};
  SURGE_ASSIGN_OR_RETURN(internal::DemandTrees model,
                         internal::TrainDemandTrees(series, kTreesFirstDay, first, options));
  std::vector<double> forecast;
  for (size_t t = first; t < first + window; ++t) {
    forecast.push_back(internal::PredictDemandTrees(model, options, series, t));
  }
  return forecast;
}

struct TreesChoice {
  internal::DemandTreesOptions options;
  std::vector<double> validation, test;  // forecasts of the two windows
};

// The tree configurations searched: where the trees start, the target, depth and size.
std::vector<internal::DemandTreesOptions> TreesGrid() {
  std::vector<internal::DemandTreesOptions> grid;
  for (const bool start_at_mean : {false, true}) {
    for (const bool log_target : {false, true}) {
      for (const int depth : {2, 3, 4}) {
        for (const int rounds : {30, 100, 300}) {
          internal::DemandTreesOptions options;
          options.start_at_mean = start_at_mean;
          options.log_target = log_target;
          options.trees.objective = "reg:squarederror";
          options.trees.max_depth = depth;
          options.trees.rounds = rounds;
          options.trees.learning_rate = 0.05;
          options.trees.min_child_weight = 3;
          options.trees.threads = 1;
          grid.push_back(options);
        }
      }
    }
  }
  return grid;
}

// The tree configuration with the lowest validation WAPE, then retrained on everything before
// the test window.
Result<TreesChoice> ChooseTrees(std::span<const double> y, int32_t first_day,
                                size_t validation_first, size_t window) {
  TreesChoice best;
  double best_wape = INFINITY;
  const std::span<const double> actual = y.subspan(validation_first, window);
  for (const internal::DemandTreesOptions& options : TreesGrid()) {
    SURGE_ASSIGN_OR_RETURN(std::vector<double> forecast,
                           TreeForecasts(y, first_day, validation_first, window, options));
    const double wape = WapeOf(actual, forecast);
    if (wape < best_wape) {
      best_wape = wape;
      best.options = options;
      best.validation = std::move(forecast);
    }
  }
  SURGE_ASSIGN_OR_RETURN(
      best.test, TreeForecasts(y, first_day, validation_first + window, window, best.options));
  return best;
}

std::vector<double> RollingForecasts(std::span<const double> y, int32_t first_day, size_t first,
                                     size_t window, const ForecastModel& model) {
  std::vector<double> forecast;
  for (size_t t = first; t < first + window; ++t) {
    forecast.push_back(ForecastDaily(y.first(t), first_day, 1, model)[0]);
  }
  return forecast;
}

std::vector<double> Mix(std::span<const double> a, std::span<const double> b, double weight) {
  std::vector<double> mixed(a.size());
  for (size_t i = 0; i < a.size(); ++i) mixed[i] = (1 - weight) * a[i] + weight * b[i];
  return mixed;
}

struct Windows {
  int32_t first_day = 0;
  size_t validation_first = 0, window = 0;
  size_t test_first() const { return validation_first + window; }
};

constexpr size_t kForecastRows = 6;

struct SeriesResult {
  double wape[kForecastRows][2] = {};  // per row: validation, test
  ForecastModel blend;
  double trees_weight = 0;
  std::string trees;
  size_t worst_day = 0;    // of the test window, for the blend
  double worst_share = 0;  // that day's share of the blend's WAPE numerator over sum |actual|
};

Result<SeriesResult> EvaluateSeries(std::span<const double> y, const Windows& w) {
  SeriesResult result;
  ForecastModel baseline;
  baseline.last_week = 1;
  Choice choices[4];
  choices[0] = Best(y, w.first_day, w.validation_first, w.window, {baseline});
  choices[1] = Best(y, w.first_day, w.validation_first, w.window, MedianGrid());
  choices[2] = Best(y, w.first_day, w.validation_first, w.window, SmoothedGrid());
  choices[3] = Best(y, w.first_day, w.validation_first, w.window,
                    BlendGrid(choices[1].model, choices[2].model));
  const std::span<const double> validation = y.subspan(w.validation_first, w.window);
  const std::span<const double> test = y.subspan(w.test_first(), w.window);
  for (size_t m = 0; m < 4; ++m) {
    result.wape[m][0] = choices[m].validation;
    result.wape[m][1] =
        WapeOf(test, RollingForecasts(y, w.first_day, w.test_first(), w.window, choices[m].model));
  }
  result.blend = choices[3].model;
  SURGE_ASSIGN_OR_RETURN(TreesChoice trees,
                         ChooseTrees(y, w.first_day, w.validation_first, w.window));
  result.wape[4][0] = WapeOf(validation, trees.validation);
  result.wape[4][1] = WapeOf(test, trees.test);
  char text[160];
  std::snprintf(text, sizeof text, "%s, from %s, depth %d, %d trees, rate %.2f",
                trees.options.log_target ? "log of the ratio to the level" : "ratio to the level",
                trees.options.start_at_mean ? "the mean" : "0.5", trees.options.trees.max_depth,
                trees.options.trees.rounds, trees.options.trees.learning_rate);
  result.trees = text;
  // The blend and the trees mixed, the weight chosen on validation.
  const std::vector<double> blend_validation =
      RollingForecasts(y, w.first_day, w.validation_first, w.window, result.blend);
  const std::vector<double> blend_test =
      RollingForecasts(y, w.first_day, w.test_first(), w.window, result.blend);
  double total = 0;
  for (const double a : test) total += std::fabs(a);
  for (size_t d = 0; d < w.window; ++d) {
    const double share = std::fabs(test[d] - blend_test[d]) / total;
    if (share > result.worst_share) {
      result.worst_share = share;
      result.worst_day = d;
    }
  }
  double best = INFINITY;
  for (int step = 0; step <= 10; ++step) {
    const double weight = step / 10.0;
    const double wape = WapeOf(validation, Mix(blend_validation, trees.validation, weight));
    if (wape < best) {
      best = wape;
      result.trees_weight = weight;
    }
  }
  result.wape[5][0] = best;
  result.wape[5][1] = WapeOf(test, Mix(blend_test, trees.test, result.trees_weight));
  return result;
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

  const Windows windows{demand.first_day, validation_first, window};
  SURGE_ASSIGN_OR_RETURN(SeriesResult units, EvaluateSeries(demand.units, windows));
  SURGE_ASSIGN_OR_RETURN(SeriesResult orders, EvaluateSeries(demand.orders, windows));
  const char* names[kForecastRows] = {
      "same weekday last week", "median of the same weekday", "smoothed level x weekday factor",
      "blend of the three",     "gradient-boosted trees",     "blend and trees"};
  for (size_t m = 0; m < kForecastRows; ++m) {
    report.models.push_back(
        {names[m], units.wape[m][0], units.wape[m][1], orders.wape[m][0], orders.wape[m][1]});
  }
  report.chosen_units = units.blend;
  report.chosen_orders = orders.blend;
  report.trees_weight_units = units.trees_weight;
  report.trees_weight_orders = orders.trees_weight;
  report.trees_units = units.trees;
  report.units_worst_day = report.test_first_day + static_cast<int32_t>(units.worst_day);
  report.units_worst_share = units.worst_share;
  report.trees_orders = orders.trees;
  return report;
}

}  // namespace surge::brain
