// Brain::Train (rebuilding the models from the log) and Brain::Forecast.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "brain/brain_state.h"
#include "common/ids.h"

namespace surge::brain {
// Each user's items in time order, one step per run of events on the same item: the same
// sequence that the user's profile keeps for serving, so that training and serving agree.
internal::Snapshot Brain::State::TakeSnapshot() const {
  internal::Snapshot snapshot;
  snapshot.items = static_cast<uint32_t>(items.size());
  std::vector<std::vector<std::pair<int64_t, uint32_t>>> timed(users.size());
  for (const auto& event : log) {
    timed[event.user].emplace_back(event.time_ms, event.item);
    snapshot.purchases += event.kind == EventKind::kPurchase;
  }
  for (auto& events : timed) {
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<uint32_t> sequence;
    for (const auto& [time, item] : events) {
      if (sequence.empty() || sequence.back() != item) sequence.push_back(item);
    }
    if (!sequence.empty()) snapshot.sequences.push_back(std::move(sequence));
  }
  bool any_category = false, any_price = false;
  for (const ItemProfile& item : items) {
    snapshot.category.push_back(item.category);
    snapshot.price.push_back(static_cast<float>(item.price_cents));
    any_category |= item.category >= 0;
    any_price |= !std::isnan(item.price_cents);
  }
  if (!any_category) snapshot.category.clear();
  if (!any_price) snapshot.price.clear();
  return snapshot;
}

namespace {

// The ranker's training data: each user's last item as the target of everything before it.
struct RankerData {
  std::vector<std::vector<uint32_t>> before_last, excluded;
  std::vector<internal::RankerExample> examples;
};

constexpr size_t kRankerExamplesMax = 50'000;

void MakeRankerData(const internal::Snapshot& snapshot, uint64_t seed, RankerData* data) {
  for (const auto& sequence : snapshot.sequences) {
    data->before_last.emplace_back(sequence.begin(), sequence.end() - 1);
  }
  data->excluded.resize(data->before_last.size());
  for (size_t u = 0; u < data->before_last.size(); ++u) {
    if (data->before_last[u].empty()) continue;
    std::vector<uint32_t>& excluded = data->excluded[u];
    excluded = data->before_last[u];
    std::sort(excluded.begin(), excluded.end());
    excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
    std::erase(excluded, snapshot.sequences[u].back());
    data->examples.push_back({{data->before_last[u], excluded}, snapshot.sequences[u].back()});
  }
  // The trees learn as well from a sample of users as from all of them in a big shop: a
  // bounded sample keeps the retrain's cost from growing with the users (Amazon Beauty's
  // 22,363 are all kept).
  if (data->examples.size() > kRankerExamplesMax) {
    std::mt19937_64 random(seed);
    std::shuffle(data->examples.begin(), data->examples.end(), random);
    data->examples.resize(kRankerExamplesMax);
  }
}

void SetCatalogue(const internal::Snapshot& snapshot, Models* models) {
  models->category = snapshot.category;
  models->price = snapshot.price;
}

}  // namespace

Result<TrainReport> Brain::Train() {
  const auto start = std::chrono::steady_clock::now();
  State& s = *state_;
  internal::Snapshot snapshot;
  {
    std::shared_lock lock(s.mutex);
    snapshot = s.TakeSnapshot();
  }
  internal::ModelOptions options;
  options.seed = s.options.seed;
  // The serving models are built on a second thread while the ranker learns.
  auto models = std::make_shared<Models>();
  std::thread build([&] {
    *models = BuildModels(snapshot.sequences, snapshot.items, options);
    SetCatalogue(snapshot, models.get());
  });
  RankerData data;
  MakeRankerData(snapshot, s.options.seed, &data);
  Result<trees::Forest> forest = Status(Code::kInvalidArgument, "too few users for a ranker");
  if (data.examples.size() >= s.options.ranker_min_users) {
    Models before = BuildModels(data.before_last, snapshot.items, options);
    SetCatalogue(snapshot, &before);
    forest = internal::TrainRanker(before, data.examples);
  }
  build.join();
  // Too few users whose next item the retrievers find is not an error: the blend ranks.
  if (!forest.ok() && forest.status().code() != Code::kInvalidArgument) return forest.status();
  if (forest.ok())
    models->ranker = std::make_shared<const trees::Forest>(std::move(forest).value());
  TrainReport report;
  report.users = snapshot.sequences.size();
  report.items = snapshot.items;
  report.purchases = snapshot.purchases;
  report.ranker = models->ranker != nullptr;
  {
    std::unique_lock lock(s.mutex);
    s.models = std::move(models);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

namespace {

// Days from `from_day` on, each with the forecast of `daily` (times `share`) from the days
// before from_day.
std::vector<DayForecast> ForecastSeries(const internal::DailyUnits& daily, double share,
                                        int32_t from_day, int days) {
  std::vector<DayForecast> forecast(static_cast<size_t>(days));
  for (int d = 0; d < days; ++d) forecast[static_cast<size_t>(d)].day = from_day + d;
  if (daily.empty() || daily.begin()->first >= from_day) return forecast;
  const int32_t first = daily.begin()->first;
  std::vector<double> history(static_cast<size_t>(from_day - first), 0.0);
  std::vector<double> bulk(history.size(), 0.0);
  for (const auto& [day, units] : daily) {
    if (day >= from_day) break;
    history[static_cast<size_t>(day - first)] = units.units * share;
    bulk[static_cast<size_t>(day - first)] = units.bulk * share;
  }
  const std::vector<double> units =
      ForecastDaily(history, bulk, first, days, internal::UnitsModel());
  for (size_t d = 0; d < units.size(); ++d) forecast[d].units = units[d];
  return forecast;
}

Status CheckForecastArguments(std::string_view item, int days) {
  if (!IsValidId(item)) return Status(Code::kBadField, "sku: expected an id");
  if (days < 1 || days > 366) return Status(Code::kBadField, "days: expected 1 to 366");
  return Status::Ok();
}

}  // namespace

Result<std::vector<DayForecast>> Brain::Forecast(std::string_view item, int32_t from_day,
                                                 int days) const {
  if (Status checked = CheckForecastArguments(item, days); !checked.ok()) return checked;
  const State& s = *state_;
  std::shared_lock lock(s.mutex);
  const auto found = s.item_index.find(std::string(item));
  if (found == s.item_index.end()) return ForecastSeries({}, 1, from_day, days);
  const ItemProfile& profile = s.items[found->second];
  // An item nobody bought yet gets its category's demand shared over the category's items.
  if (profile.daily_units.empty() && profile.category >= 0) {
    const CategoryProfile& category = s.categories[static_cast<size_t>(profile.category)];
    return ForecastSeries(category.daily_units,
                          1.0 / static_cast<double>(std::max<size_t>(category.item_count, 1)),
                          from_day, days);
  }
  return ForecastSeries(profile.daily_units, 1, from_day, days);
}

Result<std::vector<CenterForecast>> Brain::ForecastByCenter(std::string_view item, int32_t from_day,
                                                            int days) const {
  if (Status checked = CheckForecastArguments(item, days); !checked.ok()) return checked;
  const State& s = *state_;
  std::shared_lock lock(s.mutex);
  std::vector<CenterForecast> centers;
  const auto found = s.item_index.find(std::string(item));
  if (found == s.item_index.end()) return centers;
  const ItemProfile& profile = s.items[found->second];
  const internal::CenterDaily* daily = &profile.center_units;
  double share = 1;
  if (profile.daily_units.empty() && profile.category >= 0) {
    const CategoryProfile& category = s.categories[static_cast<size_t>(profile.category)];
    daily = &category.center_units;
    share = 1.0 / static_cast<double>(std::max<size_t>(category.item_count, 1));
  }
  for (const auto& [center, units] : *daily) {
    CenterForecast forecast{s.center_names[static_cast<size_t>(center)],
                            ForecastSeries(units, share, from_day, days), 0};
    for (const DayForecast& day : forecast.days) forecast.total_units += day.units;
    centers.push_back(std::move(forecast));
  }
  std::sort(centers.begin(), centers.end(),
            [](const auto& a, const auto& b) { return a.center < b.center; });
  return centers;
}

}  // namespace surge::brain
