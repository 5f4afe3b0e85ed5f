// The online brain: the event log, the profiles it updates, recommendations and forecasts.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <shared_mutex>

#include "brain/brain_state.h"
#include "common/ids.h"

namespace surge::brain {

using internal::DayOf;
using internal::KindWeight;

namespace {
constexpr size_t kCenterIdLengthMax = 32;
}  // namespace

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kView:
      return "view";
    case EventKind::kCart:
      return "cart";
    case EventKind::kPurchase:
      return "purchase";
  }
  return "unknown";
}

bool ParseEventKind(std::string_view name, EventKind* kind) {
  for (const EventKind k : {EventKind::kView, EventKind::kCart, EventKind::kPurchase}) {
    if (name == EventKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

Brain::Brain(BrainOptions options) : state_(std::make_unique<State>(std::move(options))) {}
Brain::~Brain() = default;

size_t Brain::event_count() const {
  std::shared_lock lock(state_->mutex);
  return state_->log.size();
}

Status Brain::PutItem(std::string_view item, const ItemInfo& info) {
  if (!IsValidId(item)) return Status(Code::kBadField, "item: expected an id");
  if (info.category.size() > kIdLengthMax) {
    return Status(Code::kBadField, "category: at most 64 bytes");
  }
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  const uint32_t index = s.InternItem(item);
  ItemProfile& profile = s.items[index];
  profile.price_cents = info.price_cents >= 0 ? static_cast<double>(info.price_cents) : NAN;
  if (!info.category.empty() && profile.category < 0) {
    // The first category sticks: moving an item between categories is not supported yet.
    profile.category = s.InternCategory(info.category);
    ++s.categories[static_cast<size_t>(profile.category)].item_count;
  }
  if (profile.purchases.Key(s.half_life_ms) == -INFINITY) {
    if (!profile.listed_unsold) s.unsold.push_back(index);
    profile.listed_unsold = true;
    s.PlaceUnsold(index);
  }
  return Status::Ok();
}

void Brain::State::PlaceUnsold(uint32_t item) {
  const ItemProfile& profile = items[item];
  if (profile.category < 0) return;
  CategoryProfile& category = categories[static_cast<size_t>(profile.category)];
  const double key = category.purchases.Key(half_life_ms);
  if (key == -INFINITY) return;
  category.items.Update(
      item, key - std::log2(static_cast<double>(std::max<size_t>(category.item_count, 1))));
}

Status Brain::Observe(const Event& event) {
  if (!IsValidId(event.user)) return Status(Code::kBadField, "user: expected an id");
  if (!IsValidId(event.item)) return Status(Code::kBadField, "item: expected an id");
  if (event.time_ms < 0) return Status(Code::kBadField, "time_ms: expected >= 0");
  if (event.quantity < 1) return Status(Code::kBadField, "quantity: expected >= 1");
  if (static_cast<uint8_t>(event.kind) > static_cast<uint8_t>(EventKind::kPurchase)) {
    return Status(Code::kBadField, "kind: expected view, cart or purchase");
  }
  if (!event.center.empty() &&
      (event.center.size() > kCenterIdLengthMax || !IsValidId(event.center))) {
    return Status(Code::kBadField, "center: expected an id of at most 32 characters");
  }
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  const uint32_t user = s.Intern(event.user, &s.user_index, &s.user_ids);
  if (user == s.users.size()) s.users.emplace_back();
  const uint32_t item = s.InternItem(event.item);
  const int32_t center =
      event.center.empty()
          ? -1
          : static_cast<int32_t>(s.Intern(event.center, &s.center_index, &s.center_names));
  s.log.push_back({user, item, event.kind, event.time_ms});
  s.UpdateUser(user, item, event.kind, event.time_ms);
  s.UpdateItem(item, event.kind, event.time_ms, event.quantity, center);
  return Status::Ok();
}

void Brain::State::UpdateUser(uint32_t user, uint32_t item, EventKind kind, int64_t time_ms) {
  UserProfile& profile = users[user];
  ++profile.events;
  auto& recent = profile.recent;
  // Viewing, carting and buying one item in a row is one step of the sequence.
  if (!recent.empty() && recent.back().item == item) {
    recent.back().kind = std::max(recent.back().kind, static_cast<uint8_t>(kind));
    recent.back().time_ms = std::max(recent.back().time_ms, time_ms);
  } else {
    recent.push_back({item, static_cast<uint8_t>(kind), time_ms});
    if (recent.size() > std::max<size_t>(options.recent_items, 1)) recent.erase(recent.begin());
  }
  if (kind == EventKind::kPurchase) {
    auto& bought = profile.purchased;
    const auto it = std::lower_bound(bought.begin(), bought.end(), item);
    if (it == bought.end() || *it != item) bought.insert(it, item);
  }
  // Who touched the item and its category lately: the candidates of Audience.
  const auto kind_code = static_cast<uint8_t>(kind);
  internal::NoteRecentUser(&items[item].recent_users, internal::kItemRecentUsers, user, kind_code,
                           time_ms);
  if (items[item].category >= 0) {
    profile.categories[items[item].category].Add(KindWeight(kind), time_ms, half_life_ms);
    internal::NoteRecentUser(&categories[static_cast<size_t>(items[item].category)].recent_users,
                             internal::kCategoryRecentUsers, user, kind_code, time_ms);
  }
}

void Brain::State::UpdateItem(uint32_t item, EventKind kind, int64_t time_ms, int64_t quantity,
                              int32_t center) {
  ItemProfile& profile = items[item];
  const auto units = static_cast<double>(quantity);
  if (kind == EventKind::kView) {
    profile.views.Add(1, time_ms, half_life_ms);
    return;
  }
  if (kind == EventKind::kCart) {
    profile.carts.Add(1, time_ms, half_life_ms);
    return;
  }
  profile.purchases.Add(units, time_ms, half_life_ms);
  const int32_t day = DayOf(time_ms);
  const bool bulk = quantity >= internal::kBulkOrderUnits;
  internal::AddUnits(&profile.daily_units, day, units, bulk);
  if (center >= 0) internal::AddCenterUnits(&profile.center_units, center, day, units, bulk);
  trending.Update(item, profile.purchases.Key(half_life_ms));
  if (profile.category >= 0) {
    CategoryProfile& category = categories[static_cast<size_t>(profile.category)];
    category.purchases.Add(units, time_ms, half_life_ms);
    category.items.Update(item, profile.purchases.Key(half_life_ms));
    internal::AddUnits(&category.daily_units, day, units, bulk);
    if (center >= 0) internal::AddCenterUnits(&category.center_units, center, day, units, bulk);
    top_categories.Update(static_cast<uint32_t>(profile.category),
                          category.purchases.Key(half_life_ms));
  }
}

}  // namespace surge::brain
