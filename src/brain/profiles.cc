#include "brain/profiles.h"

#include <algorithm>
#include <limits>

namespace surge::brain::internal {

void DecayedCounter::Add(double amount, int64_t time_ms, double half_life_ms) {
  if (value_ == 0) {
    value_ = amount;
    time_ms_ = time_ms;
  } else if (time_ms >= time_ms_) {
    value_ = value_ * std::exp2(-static_cast<double>(time_ms - time_ms_) / half_life_ms) + amount;
    time_ms_ = time_ms;
  } else {
    value_ += amount * std::exp2(-static_cast<double>(time_ms_ - time_ms) / half_life_ms);
  }
}

double DecayedCounter::At(int64_t now_ms, double half_life_ms) const {
  if (now_ms <= time_ms_) return value_;
  return value_ * std::exp2(-static_cast<double>(now_ms - time_ms_) / half_life_ms);
}

double DecayedCounter::Key(double half_life_ms) const {
  if (value_ <= 0) return -std::numeric_limits<double>::infinity();
  return std::log2(value_) + static_cast<double>(time_ms_) / half_life_ms;
}

void Trending::Update(uint32_t item, double key) {
  const auto [it, inserted] = key_.try_emplace(item, key);
  if (!inserted) {
    order_.erase({it->second, -static_cast<int64_t>(item)});
    it->second = key;
  }
  order_.insert({key, -static_cast<int64_t>(item)});
}

void NoteRecentUser(std::vector<RecentUser>* recent, size_t capacity, uint32_t user, uint8_t kind,
                    int64_t time_ms) {
  RecentUser* oldest = nullptr;
  for (RecentUser& entry : *recent) {
    if (entry.user == user) {
      entry.kind = std::max(entry.kind, kind);
      entry.time_ms = std::max(entry.time_ms, time_ms);
      return;
    }
    if (oldest == nullptr || entry.time_ms < oldest->time_ms) oldest = &entry;
  }
  if (recent->size() < capacity) {
    recent->push_back({user, kind, time_ms});
  } else if (oldest != nullptr && oldest->time_ms <= time_ms) {
    *oldest = {user, kind, time_ms};
  }
}

void AddUnits(DailyUnits* daily, int32_t day, double units, bool bulk) {
  DayUnits& today = (*daily)[day];
  today.units += units;
  if (bulk) today.bulk += units;
}

void AddCenterUnits(CenterDaily* daily, int32_t center, int32_t day, double units, bool bulk) {
  for (auto& [known, days] : *daily) {
    if (known == center) {
      AddUnits(&days, day, units, bulk);
      return;
    }
  }
  daily->emplace_back(center, DailyUnits{});
  AddUnits(&daily->back().second, day, units, bulk);
}

}  // namespace surge::brain::internal
