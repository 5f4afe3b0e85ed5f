// The rolling one-day-ahead evaluation of daily demand forecasts (docs/BRAIN.md).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "brain/brain.h"
#include "brain/forecast_internal.h"
#include "brain/parallel.h"
#include "common/assert.h"

namespace surge::brain {
namespace {

// A series under evaluation: its days from first_day and, for units, the part of each day that
// came in bulk orders (empty for orders).
struct Input {
  std::span<const double> y;
  std::span<const double> bulk;
  int32_t first_day = 0;
};

double WapeOf(std::span<const double> actual, std::span<const double> forecast) {
  const Result<double> wape = Wape(actual, forecast);
  return wape.ok() ? *wape : std::nan("");
}

// The one-day-ahead forecasts of days [first, first + days), each from the days before it.
std::vector<double> RollingForecasts(const Input& in, size_t first, size_t days,
                                     const ForecastModel& model) {
  std::vector<double> forecast;
  for (size_t t = first; t < first + days; ++t) {
    const std::span<const double> bulk = in.bulk.empty() ? in.bulk : in.bulk.first(t);
    forecast.push_back(ForecastDaily(in.y.first(t), bulk, in.first_day, 1, model)[0]);
  }
  return forecast;
}

struct Choice {
  ForecastModel model;
  double validation = 0;
};

// The model among `candidates` with the lowest WAPE over days [first, first + days) (the first
// on ties).
Choice Best(const Input& in, size_t first, size_t days,
            const std::vector<ForecastModel>& candidates) {
  Choice best{candidates.front(), INFINITY};
  const std::span<const double> actual = in.y.subspan(first, days);
  for (const ForecastModel& model : candidates) {
    const double wape = WapeOf(actual, RollingForecasts(in, first, days, model));
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

std::vector<ForecastModel> SplitGrid(bool bulk) {
  std::vector<ForecastModel> grid;
  for (const int level_days : {5, 10, 15, 20}) {
    for (const int bulk_days : {28, 56, 112}) {
      ForecastModel model;
      model.split = 1;
      model.level_days = level_days;
      model.bulk_days = bulk_days;
      grid.push_back(model);
      if (!bulk) break;  // bulk_days changes nothing
    }
  }
  return grid;
}

// Blends of the chosen components with weights 0..2 each.
std::vector<ForecastModel> BlendGrid(const ForecastModel& median, const ForecastModel& smoothed,
                                     const ForecastModel& split) {
  std::vector<ForecastModel> grid;
  for (const double a : {0.0, 1.0, 2.0}) {
    for (const double b : {0.0, 1.0, 2.0}) {
      for (const double c : {0.0, 1.0, 2.0}) {
        for (const double d : {0.0, 1.0, 2.0}) {
          if (a + b + c + d == 0) continue;
          ForecastModel model = smoothed;
          model.weeks_median = median.weeks_median;
          model.level_days = split.level_days;
          model.bulk_days = split.bulk_days;
          model.last_week = a;
          model.median_weeks = b;
          model.smoothed = c;
          model.split = d;
          grid.push_back(model);
        }
      }
    }
  }
  return grid;
}

// Choices are made on the three windows before the test window: among some 150 configurations,
// one window's 28 noisy days would pick the luckiest rather than the best.
constexpr size_t kValidationWindows = 3;
constexpr size_t kTreesFirstDay = 112;  // the trees learn from the days after the first 16 weeks
// The trees are retrained every week on all the days before (as serving retrains), so that a
// forecast never comes from a model more than a week older than its history.
constexpr size_t kRefitDays = 7;

// One-day-ahead forecasts of days [first, first + days), each by trees trained on the days
// before the start of its week.
Result<std::vector<double>> TreeForecasts(const Input& in, size_t first, size_t days,
                                          const internal::DemandTreesOptions& options) {
  const internal::Series series{in.y, static_cast<size_t>(((in.first_day % 7) + 7) % 7),
                                in.first_day, in.bulk};
  std::vector<double> forecast;
  for (size_t week = first; week < first + days; week += kRefitDays) {
    SURGE_ASSIGN_OR_RETURN(internal::DemandTrees model,
                           internal::TrainDemandTrees(series, kTreesFirstDay, week, options));
    for (size_t t = week; t < std::min(week + kRefitDays, first + days); ++t) {
      forecast.push_back(internal::PredictDemandTrees(model, options, series, t));
    }
  }
  return forecast;
}

struct TreesChoice {
  internal::DemandTreesOptions options;
  std::vector<double> validation, test;  // forecasts of the two spans
};

// The tree configurations searched: the loss (squared or absolute error, the latter WAPE's
// own), whether days weigh by their level (so the loss counts units, as WAPE does), where the
// trees start, the target, depth and size.
std::vector<internal::DemandTreesOptions> TreesGrid(bool quick) {
  std::vector<internal::DemandTreesOptions> grid;
  for (const char* objective : {"reg:squarederror", "reg:absoluteerror"}) {
    for (const bool weight_by_level : {false, true}) {
      for (const bool start_at_mean : {false, true}) {
        for (const bool log_target : {false, true}) {
          for (const int depth : {2, 3, 4}) {
            for (const int rounds : {30, 100, 300}) {
              if (quick && (depth != 2 || rounds != 30)) continue;
              internal::DemandTreesOptions options;
              options.weight_by_level = weight_by_level;
              options.start_at_mean = start_at_mean;
              options.log_target = log_target;
              options.trees.objective = objective;
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
    }
  }
  return grid;
}

struct Windows {
  size_t validation_first = 0, validation_days = 0;
  size_t test_first = 0, test_days = 0;
};

// The tree configuration with the lowest validation WAPE (the first of the grid on ties), and
// its forecasts of both spans. The search runs on two threads, one XGBoost thread each.
Result<TreesChoice> ChooseTrees(const Input& in, const Windows& w, bool quick) {
  const std::vector<internal::DemandTreesOptions> grid = TreesGrid(quick);
  std::vector<Result<std::vector<double>>> forecasts(grid.size(), std::vector<double>{});
  internal::ParallelFor(grid.size(), 2, 1, [&](size_t, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      forecasts[i] = TreeForecasts(in, w.validation_first, w.validation_days, grid[i]);
    }
  });
  const std::span<const double> actual = in.y.subspan(w.validation_first, w.validation_days);
  size_t best = grid.size();
  double best_wape = INFINITY;
  for (size_t i = 0; i < grid.size(); ++i) {
    if (!forecasts[i].ok()) return forecasts[i].status();
    const double wape = WapeOf(actual, *forecasts[i]);
    if (wape < best_wape) {
      best_wape = wape;
      best = i;
    }
  }
  SURGE_ASSERT(best < grid.size());
  TreesChoice choice;
  choice.options = grid[best];
  choice.validation = std::move(forecasts[best]).value();
  SURGE_ASSIGN_OR_RETURN(choice.test, TreeForecasts(in, w.test_first, w.test_days, choice.options));
  return choice;
}

std::vector<double> Mix(std::span<const double> a, std::span<const double> b, double weight) {
  std::vector<double> mixed(a.size());
  for (size_t i = 0; i < a.size(); ++i) mixed[i] = (1 - weight) * a[i] + weight * b[i];
  return mixed;
}

constexpr size_t kForecastRows = 7;

struct SeriesResult {
  double wape[kForecastRows][2] = {};  // per row: validation, test
  ForecastModel blend;
  int64_t bulk_units = 0;  // the size from which an order counts as bulk; 0 = none
  double trees_weight = 0;
  std::string trees;
  size_t worst_day = 0;    // of the test window, for the blend
  double worst_share = 0;  // that day's share of the blend's WAPE numerator over sum |actual|
};

// `bulk` holds, per size of kBulkUnits, the part of each day of y from orders of that size or
// more (empty for a series without bulk); validation chooses which of them to take apart.
Result<SeriesResult> EvaluateSeries(std::span<const double> y,
                                    std::span<const std::vector<double>> bulk, int32_t first_day,
                                    const Windows& w, bool quick) {
  SeriesResult result;
  ForecastModel baseline;
  baseline.last_week = 1;
  Input in{y, {}, first_day};
  const size_t vf = w.validation_first, vd = w.validation_days;
  Choice choices[5];
  choices[0] = Best(in, vf, vd, {baseline});
  choices[1] = Best(in, vf, vd, MedianGrid());
  choices[2] = Best(in, vf, vd, SmoothedGrid());
  choices[3] = Best(in, vf, vd, SplitGrid(false));
  for (size_t k = 0; k < bulk.size(); ++k) {
    const Input split_input{y, bulk[k], first_day};
    const Choice choice = Best(split_input, vf, vd, SplitGrid(true));
    if (choice.validation < choices[3].validation) {
      choices[3] = choice;
      in = split_input;
      result.bulk_units = kBulkUnits[k];
    }
  }
  choices[4] = Best(in, vf, vd, BlendGrid(choices[1].model, choices[2].model, choices[3].model));
  const std::span<const double> validation = y.subspan(vf, vd);
  const std::span<const double> test = y.subspan(w.test_first, w.test_days);
  for (size_t m = 0; m < 5; ++m) {
    result.wape[m][0] = choices[m].validation;
    result.wape[m][1] =
        WapeOf(test, RollingForecasts(in, w.test_first, w.test_days, choices[m].model));
  }
  result.blend = choices[4].model;
  SURGE_ASSIGN_OR_RETURN(TreesChoice trees, ChooseTrees(in, w, quick));
  result.wape[5][0] = WapeOf(validation, trees.validation);
  result.wape[5][1] = WapeOf(test, trees.test);
  char text[240];
  std::snprintf(text, sizeof text, "%s error%s on the %s, from %s, depth %d, %d trees, rate %.2f",
                trees.options.trees.objective == "reg:absoluteerror" ? "absolute" : "squared",
                trees.options.weight_by_level ? " weighted by the level" : "",
                trees.options.log_target ? "log of the ratio to the level" : "ratio to the level",
                trees.options.start_at_mean ? "the mean" : "0.5", trees.options.trees.max_depth,
                trees.options.trees.rounds, trees.options.trees.learning_rate);
  result.trees = text;
  // The blend and the trees mixed, the weight chosen on validation.
  const std::vector<double> blend_validation = RollingForecasts(in, vf, vd, result.blend);
  const std::vector<double> blend_test =
      RollingForecasts(in, w.test_first, w.test_days, result.blend);
  double total = 0;
  for (const double a : test) total += std::fabs(a);
  for (size_t d = 0; d < w.test_days; ++d) {
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
  result.wape[6][0] = best;
  result.wape[6][1] = WapeOf(test, Mix(blend_test, trees.test, result.trees_weight));
  return result;
}

}  // namespace

Result<ForecastEvalReport> EvaluateForecasts(const DailyDemand& demand, int window_days,
                                             bool quick) {
  const auto window = static_cast<size_t>(std::max(window_days, 1));
  if (demand.days() < (kValidationWindows + 1) * window + kTreesFirstDay + 4 * 7 ||
      demand.orders.size() != demand.units.size()) {
    return Status(Code::kInvalidArgument,
                  "the daily series has " + std::to_string(demand.days()) +
                      " days; the evaluation needs " + std::to_string(kValidationWindows + 1) +
                      " windows of " + std::to_string(window) + " days and 20 weeks before them");
  }
  ForecastEvalReport report;
  const size_t test_first = demand.days() - window;
  const size_t validation_first = test_first - kValidationWindows * window;
  report.test_first_day = demand.first_day + static_cast<int32_t>(test_first);
  report.test_last_day = demand.first_day + static_cast<int32_t>(demand.days() - 1);
  report.validation_first_day = demand.first_day + static_cast<int32_t>(validation_first);

  const Windows windows{validation_first, kValidationWindows * window, test_first, window};
  // Bulk sizes whose series are present (a hand-made DailyDemand may have none).
  std::vector<std::vector<double>> bulk;
  for (const std::vector<double>& series : demand.bulk_units) {
    if (series.empty()) continue;
    if (series.size() != demand.days()) {
      return Status(Code::kInvalidArgument, "a bulk series has " + std::to_string(series.size()) +
                                                " days, the units " +
                                                std::to_string(demand.days()));
    }
    bulk.push_back(series);
  }
  SURGE_ASSIGN_OR_RETURN(SeriesResult units,
                         EvaluateSeries(demand.units, bulk, demand.first_day, windows, quick));
  SURGE_ASSIGN_OR_RETURN(SeriesResult orders,
                         EvaluateSeries(demand.orders, {}, demand.first_day, windows, quick));
  const char* names[kForecastRows] = {"same weekday last week",
                                      "median of the same weekday",
                                      "smoothed level x weekday factor",
                                      "regular level x weekday factor + bulk mean",
                                      "blend of the four",
                                      "gradient-boosted trees",
                                      "blend and trees"};
  for (size_t m = 0; m < kForecastRows; ++m) {
    report.models.push_back(
        {names[m], units.wape[m][0], units.wape[m][1], orders.wape[m][0], orders.wape[m][1]});
  }
  report.chosen_units = units.blend;
  report.bulk_units = units.bulk_units;
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
