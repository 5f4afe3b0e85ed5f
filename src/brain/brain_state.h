// Private to src/brain: the state behind Brain, shared by its .cc files.
#pragma once

#include <cmath>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "brain/brain.h"
#include "brain/models.h"
#include "brain/profiles.h"

namespace surge::brain {

namespace internal {

// The blend that validation chose for daily units on UCI Online Retail (docs/BRAIN.md): the
// median of the same weekday over 6 weeks and, twice as strong, the regular demand's level
// over its last 10 trading days plus the bulk units per trading day over 56 days.
inline ForecastModel UnitsModel() {
  ForecastModel model;
  model.median_weeks = 1;
  model.weeks_median = 6;
  model.split = 2;
  model.level_days = 10;
  model.bulk_days = 56;
  return model;
}

// A purchase of this many units or more is a bulk order (validation's choice of size on UCI
// Online Retail's invoices, kBulkUnits).
inline constexpr int64_t kBulkOrderUnits = kBulkUnits[1];
static_assert(kBulkOrderUnits == 2000);

// How much an event says about a user's taste for the item's category.
inline double KindWeight(EventKind kind) {
  switch (kind) {
    case EventKind::kView:
      return 1;
    case EventKind::kCart:
      return 2;
    case EventKind::kPurchase:
      return 3;
  }
  return 0;
}

// What Train reads from the log under the lock.
struct Snapshot {
  std::vector<std::vector<uint32_t>> sequences;  // per user with events, oldest first
  uint32_t items = 0;
  std::vector<int32_t> category;  // per item; empty if no item has one
  std::vector<float> price;       // per item; empty if no item has one
  size_t purchases = 0;
};

inline int32_t DayOf(int64_t time_ms) { return static_cast<int32_t>(time_ms / 86'400'000); }

}  // namespace internal

using internal::CategoryProfile;
using internal::ItemProfile;
using internal::Models;
using internal::Trending;
using internal::UserProfile;

struct Brain::State {
  explicit State(BrainOptions brain_options)
      : options(std::move(brain_options)),
        half_life_ms(static_cast<double>(std::max<int64_t>(options.half_life.count(), 1))) {}

  struct Logged {
    uint32_t user, item;
    EventKind kind;
    int64_t time_ms;
  };

  BrainOptions options;
  double half_life_ms;
  mutable std::shared_mutex mutex;
  absl::flat_hash_map<std::string, uint32_t> user_index, item_index, category_index, center_index;
  std::vector<std::string> user_ids, item_ids, category_names, center_names;
  std::vector<UserProfile> users;
  std::vector<ItemProfile> items;
  std::vector<CategoryProfile> categories;
  Trending trending;             // items by decayed purchases
  Trending top_categories;       // categories by decayed purchases
  std::vector<uint32_t> unsold;  // items put in the catalogue before anyone bought them
  std::vector<Logged> log;
  std::shared_ptr<const Models> models;

  uint32_t Intern(std::string_view id, absl::flat_hash_map<std::string, uint32_t>* index,
                  std::vector<std::string>* ids) {
    const auto [it, inserted] =
        index->try_emplace(std::string(id), static_cast<uint32_t>(ids->size()));
    if (inserted) ids->emplace_back(id);
    return it->second;
  }
  uint32_t InternItem(std::string_view id) {
    const uint32_t item = Intern(id, &item_index, &item_ids);
    if (item == items.size()) items.emplace_back();
    return item;
  }
  int32_t InternCategory(std::string_view name) {
    const uint32_t category = Intern(name, &category_index, &category_names);
    if (category == categories.size()) categories.emplace_back();
    return static_cast<int32_t>(category);
  }

  void UpdateUser(uint32_t user, uint32_t item, EventKind kind, int64_t time_ms);
  // `center` is an index into center_names, -1 for none.
  void UpdateItem(uint32_t item, EventKind kind, int64_t time_ms, int64_t quantity, int32_t center);
  // A new item's place in its category before anyone bought it: the category's mean.
  void PlaceUnsold(uint32_t item);

  std::vector<Recommendation> Cold(const UserProfile* profile, std::string_view user_id,
                                   size_t count, int64_t now_ms,
                                   const std::vector<Recommendation>& already) const;
  internal::Snapshot TakeSnapshot() const;
  std::string Reason(const Models& models, const internal::UserView& view,
                     const internal::Workspace& workspace, uint32_t item) const;
};

}  // namespace surge::brain
