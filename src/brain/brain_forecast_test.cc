// Daily demand forecasts on hand-made series.
#include <cmath>

#include "brain/brain.h"
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

TEST(Forecast, EvaluationPicksOnValidationAndReportsBothWindows) {
  // Weekly pattern with noise on one weekday: the evaluation runs and is sane.
  std::vector<double> y = Weekly(30, {100, 120, 140, 160, 180, 90, 0}, 0.002);
  for (size_t d = 0; d < y.size(); d += 7) y[d] *= (d / 7) % 2 == 0 ? 1.3 : 0.7;
  DailyDemand demand;
  demand.first_day = 14000;
  demand.units = y;
  demand.orders = y;
  auto report = EvaluateForecasts(demand, 28);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->models.size(), 6u);
  EXPECT_EQ(report->test_last_day, 14000 + static_cast<int32_t>(y.size()) - 1);
  EXPECT_EQ(report->test_first_day, report->test_last_day - 27);
  EXPECT_EQ(report->validation_first_day, report->test_first_day - 28);
  for (const ForecastResult& m : report->models) {
    EXPECT_GT(m.units_test, 0) << m.name;
    EXPECT_LT(m.units_test, 0.5) << m.name;
  }
  // The blend is chosen on validation among sets that include the components: it is no worse
  // there than the best component.
  EXPECT_LE(
      report->models[3].units_validation,
      std::min(report->models[1].units_validation, report->models[2].units_validation) + 1e-12);
  demand.units.resize(50);
  demand.orders.resize(50);
  EXPECT_EQ(EvaluateForecasts(demand, 28).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace surge::brain
