// docs/BRAIN.md's generated section.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "brain/brain.h"

namespace surge::brain {
namespace {

std::string Number(double value, const char* format = "%.4f") {
  if (std::isnan(value)) return "-";
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string Date(int32_t day) {
  const std::chrono::year_month_day date{std::chrono::sys_days(std::chrono::days(day))};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text;
}

std::string Describe(const ForecastModel& model) {
  char text[256];
  std::snprintf(text, sizeof text,
                "weights: last week %.0f, median of %d weeks %.0f, smoothed (alpha %.2f, weekday "
                "factors over %d weeks) %.0f, regular level (%d trading days) + bulk mean (%d "
                "days) %.0f",
                model.last_week, model.weeks_median, model.median_weeks, model.alpha,
                model.weeks_factor, model.smoothed, model.level_days, model.bulk_days, model.split);
  return text;
}

std::string RecommendationSection(const RecommendationEvalReport& r) {
  std::string out;
  out += "### Amazon Beauty: leave-last-out, all " + std::to_string(r.items) +
         " items ranked, history excluded\n\n";
  out += std::to_string(r.users) + " users, " + std::to_string(r.interactions) +
         " interactions. Validation: each user's second-to-last item, models built from what "
         "precedes it; test: the last item, models built from everything before it.\n\n";
  out +=
      "| model | validation HR@10 | validation NDCG@10 | test HR@10 | test NDCG@10 | what it "
      "is |\n|---|---|---|---|---|---|\n";
  for (const ModelResult& m : r.models) {
    out += "| " + m.name + " | " + Number(m.validation.hit_rate) + " | " +
           Number(m.validation.ndcg) + " | **" + Number(m.test.hit_rate) + "** | **" +
           Number(m.test.ndcg) + "** | " + m.description + " |\n";
  }
  out += "\nHyper-parameters chosen on validation:\n\n```\n" + r.chosen + "```\n\n";
  out += "Full retrain (models of both splits and the ranker, 2 threads): **" +
         Number(r.retrain_seconds, "%.1f") +
         " s**; evaluation of every model on both splits: " + Number(r.eval_seconds, "%.1f") +
         " s; the search on validation: " + Number(r.tune_seconds, "%.1f") + " s.\n\n";

  return out;
}

std::string ForecastSection(const ForecastEvalReport& f) {
  std::string out;
  out += "### UCI Online Retail: daily units and orders of the whole shop, one day ahead\n\n";
  out += "Test window " + Date(f.test_first_day) + " to " + Date(f.test_last_day) +
         "; validation from " + Date(f.validation_first_day) +
         " (the three windows of as many days just before it), on which every choice is made; "
         "the trees are retrained every 7 days on all the days before.\n\n";
  out +=
      "| model | units WAPE validation | units WAPE test | orders WAPE validation | orders "
      "WAPE test |\n|---|---|---|---|---|\n";
  for (const ForecastResult& m : f.models) {
    out += "| " + m.name + " | " + Number(m.units_validation) + " | **" + Number(m.units_test) +
           "** | " + Number(m.orders_validation) + " | **" + Number(m.orders_test) + "** |\n";
  }
  out += "\nChosen on validation: units " + Describe(f.chosen_units) + ", bulk " +
         (f.bulk_units > 0 ? "invoices of " + std::to_string(f.bulk_units) + " units or more"
                           : std::string("none")) +
         "; trees " + f.trees_units + ", their share in the mix " +
         Number(f.trees_weight_units, "%.2f") + ". Orders " + Describe(f.chosen_orders) +
         "; trees " + f.trees_orders + ", their share " + Number(f.trees_weight_orders, "%.2f") +
         ".\n\nThe blend's largest units error is on " + Date(f.units_worst_day) + ": " +
         Number(f.units_worst_share, "%.3f") + " of its units WAPE comes from that day alone.\n";
  return out;
}

}  // namespace

std::string ReportMarkdown(const RecommendationEvalReport& recommendations,
                           const ForecastEvalReport& forecasts) {
  std::string out;
  if (!recommendations.models.empty()) out += RecommendationSection(recommendations);
  if (!forecasts.models.empty()) out += ForecastSection(forecasts);
  return out;
}

}  // namespace surge::brain
