// Daily demand forecasts on hand-made series.
#include <cmath>

#include "brain/brain.h"
#include "brain/forecast_internal.h"
#include "gtest/gtest.h"

namespace surge::brain {
namespace {

// A weekly pattern: weekday w sells pattern[w] (first_day 0 is a Thursday: index = day % 7).
std::vector<double> Weekly(int weeks, const std::array<double, 7>& pattern, double growth = 0) {
  std::vector<double> y;
  for (int d = 0; d < weeks * 7; ++d) y.push_back(pattern[d % 7] * (1 + growth * d));
  return y;
}

TEST(Forecast, LastWeekRepeatsTheSameWeekday) {
  const std::vector<double> y = {1, 2, 3, 4, 5, 6, 7, 10, 20};
  ForecastModel model;
  model.last_week = 1;
  const std::vector<double> f = ForecastDaily(y, 0, 3, model);
  // Days 9, 10, 11 repeat days 2, 3, 4.
  EXPECT_EQ(f, (std::vector<double>{3, 4, 5}));
}

TEST(Forecast, MedianOfTheSameWeekdayIgnoresOneSpike) {
  std::vector<double> y = Weekly(4, {10, 10, 10, 10, 10, 10, 10});
  y[y.size() - 7] = 1000;  // last week's same weekday was a spike
  ForecastModel model;
  model.median_weeks = 1;
  model.weeks_median = 3;
  EXPECT_EQ(ForecastDaily(y, 0, 1, model)[0], 10);
  model.median_weeks = 0;
  model.last_week = 1;
  EXPECT_EQ(ForecastDaily(y, 0, 1, model)[0], 1000);
}

TEST(Forecast, SmoothedLevelTimesWeekdayFactorFitsASteadyPattern) {
  const std::array<double, 7> pattern = {10, 20, 30, 40, 50, 60, 0};
  const std::vector<double> y = Weekly(20, pattern);
  ForecastModel model;
  model.smoothed = 1;
  model.weeks_factor = 8;
  model.alpha = 0.3;
  const std::vector<double> f = ForecastDaily(y, 0, 7, model);
  for (int d = 0; d < 7; ++d) EXPECT_NEAR(f[d], pattern[(y.size() + d) % 7], 1e-6) << d;
}

TEST(Forecast, PhaseOfTheCalendarDoesNotChangeTheForecast) {
  // Weekday factors are learnt from the series itself, so its first weekday cannot matter.
  std::vector<double> y = Weekly(3, {1, 2, 3, 4, 5, 6, 7});
  ForecastModel model;
  model.smoothed = 1;
  model.weeks_factor = 2;
  const double a = ForecastDaily(y, 0, 1, model)[0];
  const double b = ForecastDaily(y, 3, 1, model)[0];
  EXPECT_NEAR(a, 1, 1e-9);
  EXPECT_NEAR(b, 1, 1e-9);
}

TEST(Forecast, ShortHistoriesDegrade) {
  ForecastModel model;
  model.last_week = 1;
  EXPECT_EQ(ForecastDaily({}, 0, 2, model), (std::vector<double>{0, 0}));
  const std::vector<double> three = {3, 6, 9};
  EXPECT_EQ(ForecastDaily(three, 0, 1, model)[0], 6);  // the mean of what is known
}

TEST(Forecast, SplitForecastsTheRegularLevelPlusTheBulkMean) {
  // Regular demand of 100 a day except Saturdays (closed), and a bulk order of 700 every
  // Tuesday: the bulk mean per trading day is 700 / 6, whatever the weekday forecast.
  std::vector<double> y = Weekly(20, {100, 100, 0, 100, 100, 100, 100});
  std::vector<double> bulk(y.size(), 0);
  for (size_t d = 5; d < y.size(); d += 7) {  // day 5 is a Tuesday
    bulk[d] = 700;
    y[d] += 700;
  }
  ForecastModel model;
  model.split = 1;
  model.level_days = 10;
  model.bulk_days = 28;
  const std::vector<double> f = ForecastDaily(y, bulk, 0, 7, model);
  ASSERT_EQ(f.size(), 7u);
  for (size_t d = 0; d < 7; ++d) {
    if (d == 2) {
      EXPECT_EQ(f[d], 0) << "a closed Saturday";
    } else {
      EXPECT_NEAR(f[d], 100 + 700.0 / 6, 1e-6) << "day " << d;
    }
  }
  // Without its bulk history the same series is all regular, and the spikes raise the level of
  // the days after them instead.
  const std::vector<double> plain = ForecastDaily(y, 0, 1, model);
  EXPECT_GT(std::fabs(plain[0] - f[0]), 10);
}

TEST(Forecast, EvaluationPicksOnValidationAndReportsBothWindows) {
  // Weekly pattern with noise on one weekday: the evaluation runs and is sane.
  std::vector<double> y = Weekly(40, {100, 120, 140, 160, 180, 90, 0}, 0.002);
  for (size_t d = 0; d < y.size(); d += 7) y[d] *= (d / 7) % 2 == 0 ? 1.3 : 0.7;
  DailyDemand demand;
  demand.first_day = 14000;
  demand.units = y;
  demand.orders = y;
  auto report = EvaluateForecasts(demand, 28, /*quick=*/true);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->models.size(), 7u);
  EXPECT_EQ(report->test_last_day, 14000 + static_cast<int32_t>(y.size()) - 1);
  EXPECT_EQ(report->test_first_day, report->test_last_day - 27);
  EXPECT_EQ(report->validation_first_day, report->test_first_day - 3 * 28);
  for (const ForecastResult& m : report->models) {
    EXPECT_GT(m.units_test, 0) << m.name;
    EXPECT_LT(m.units_test, 0.5) << m.name;
  }
  // The blend is chosen on validation among sets that include the components: it is no worse
  // there than the best component.
  EXPECT_LE(report->models[4].units_validation,
            std::min({report->models[1].units_validation, report->models[2].units_validation,
                      report->models[3].units_validation}) +
                1e-12);
  demand.units.resize(50);
  demand.orders.resize(50);
  EXPECT_EQ(EvaluateForecasts(demand, 28, true).status().code(), Code::kInvalidArgument);
}

TEST(DemandTrees, ClosedDaysAreMissingLagsAndTheCalendarIsRight) {
  // Ten weeks ending on Friday 2011-12-09 (day 15317); Saturdays never sell; one Wednesday
  // (two days before the end) was a holiday.
  const int32_t last_day = 15317, first_day = last_day - 69;
  std::vector<double> y;
  for (int32_t day = first_day; day <= last_day; ++day) {
    const int weekday = (day + 4) % 7;  // 0 = Sunday: 1970-01-01 was a Thursday
    y.push_back(weekday == 6 ? 0 : 100 + day % 7);
  }
  y[y.size() - 3] = 0;  // the holiday
  const internal::Series series{y, static_cast<size_t>(first_day % 7), first_day};
  std::vector<float> row(internal::kDemandFeatures);
  const size_t t = y.size() - 1;  // Friday 2011-12-09 itself, from the days before it
  internal::DemandFeatures(series, t, row);
  double sum = 0;  // the level: the mean of the last 28 days that sold
  int sold = 0;
  for (size_t d = t - 28; d < t; ++d) {
    if (y[d] > 0) {
      sum += y[d];
      ++sold;
    }
  }
  EXPECT_FLOAT_EQ(row[0], static_cast<float>(y[t - 1] / (sum / sold)));  // Thursday sold
  EXPECT_TRUE(std::isnan(row[1]));                                       // Wednesday: the holiday
  EXPECT_TRUE(std::isnan(row[5]));                                       // last Saturday
  EXPECT_FALSE(std::isnan(row[2]));
  EXPECT_FLOAT_EQ(row[internal::kDemandFeatures - 2], 9);   // day of the month
  EXPECT_FLOAT_EQ(row[internal::kDemandFeatures - 1], 16);  // days to Christmas
  // Trained on these days, the trees forecast a Saturday at 0 and a weekday near its level.
  internal::DemandTreesOptions options;
  options.trees.objective = "reg:squarederror";
  options.trees.rounds = 50;
  options.trees.max_depth = 2;
  options.trees.threads = 1;
  auto model = internal::TrainDemandTrees(series, 35, t, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(internal::PredictDemandTrees(*model, options, series, t - 6), 0);  // a Saturday
  EXPECT_NEAR(internal::PredictDemandTrees(*model, options, series, t), y[t], 10);
}

}  // namespace
}  // namespace surge::brain
