// Private to src/brain: profiles of users, items and categories, updated one event at a time.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace surge::brain::internal {

// A count that halves every `half_life_ms`. Events may arrive slightly out of order: an older
// one is added already decayed to the counter's time.
class DecayedCounter {
 public:
  void Add(double amount, int64_t time_ms, double half_life_ms);
  // The value at `now_ms` (not before the last event: then the value at the last event).
  double At(int64_t now_ms, double half_life_ms) const;
  // log2 of the value brought to time 0: comparing keys compares the counters at any common
  // time, so one ordered index stays valid as time passes. -inf for an empty counter.
  double Key(double half_life_ms) const;
  int64_t time_ms() const { return time_ms_; }

 private:
  double value_ = 0;
  int64_t time_ms_ = 0;
};

// One entry of a user's recent history.
struct RecentItem {
  uint32_t item = 0;
  uint8_t kind = 0;  // EventKind
  int64_t time_ms = 0;
};

// One of the most recent users of an item or a category (for Brain::Audience): their
// strongest kind of event on it and the time of their latest.
struct RecentUser {
  uint32_t user = 0;
  uint8_t kind = 0;  // EventKind
  int64_t time_ms = 0;
};

// Records that `user` had an event on the item or category whose list `recent` is: updates the
// user's entry in place, else adds one, replacing the oldest once `capacity` users are listed
// (O(capacity) per event, a bounded list whatever the number of users).
void NoteRecentUser(std::vector<RecentUser>* recent, size_t capacity, uint32_t user, uint8_t kind,
                    int64_t time_ms);

// A day's units bought, and the part of them in bulk orders (kBulkOrderUnits or more), which
// the forecasts take apart from the regular demand.
struct DayUnits {
  double units = 0;
  double bulk = 0;
};
using DailyUnits = std::map<int32_t, DayUnits>;  // day -> units
void AddUnits(DailyUnits* daily, int32_t day, double units, bool bulk);

// Daily units per center: (center index, day -> units), a few centers per item.
using CenterDaily = std::vector<std::pair<int32_t, DailyUnits>>;
void AddCenterUnits(CenterDaily* daily, int32_t center, int32_t day, double units, bool bulk);

struct UserProfile {
  std::vector<RecentItem> recent;   // oldest first, at most BrainOptions::recent_items
  std::vector<uint32_t> purchased;  // sorted: every item the user bought
  absl::flat_hash_map<int32_t, DecayedCounter> categories;  // affinity by category
  size_t events = 0;
};

struct ItemProfile {
  DecayedCounter views, carts, purchases;
  DailyUnits daily_units;
  int32_t category = -1;
  double price_cents = NAN;
  bool listed_unsold = false;            // in Brain's list of catalogue items nobody bought yet
  std::vector<RecentUser> recent_users;  // its most recent users, at most kItemRecentUsers
  CenterDaily center_units;              // purchases whose event named a center
};

inline constexpr size_t kItemRecentUsers = 64;
inline constexpr size_t kCategoryRecentUsers = 512;

// An index of items by decayed purchases, the most bought first.
class Trending {
 public:
  // Moves `item` to the position of `key` (see DecayedCounter::Key).
  void Update(uint32_t item, double key);
  // Up to `count` items, best first, skipping those `skip` rejects.
  template <typename Skip>
  std::vector<uint32_t> Top(size_t count, Skip skip) const {
    std::vector<uint32_t> top;
    for (auto it = order_.rbegin(); it != order_.rend() && top.size() < count; ++it) {
      const auto item = static_cast<uint32_t>(-it->second);
      if (!skip(item)) top.push_back(item);
    }
    return top;
  }
  size_t size() const { return order_.size(); }

 private:
  // (key, -item): larger keys first, then lower items first when iterating backwards.
  std::set<std::pair<double, int64_t>> order_;
  absl::flat_hash_map<uint32_t, double> key_;
};

struct CategoryProfile {
  DecayedCounter purchases;
  Trending items;          // its items by decayed purchases (or prior)
  DailyUnits daily_units;  // over its items
  size_t item_count = 0;
  std::vector<RecentUser> recent_users;  // at most kCategoryRecentUsers
  CenterDaily center_units;
};

}  // namespace surge::brain::internal
