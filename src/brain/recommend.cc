// Brain::Recommend: the ranked list for a known user, cold start for the others.
#include <algorithm>
#include <mutex>

#include "brain/brain_state.h"
#include "common/coding.h"
#include "common/ids.h"

namespace surge::brain {
namespace {

constexpr size_t kExplorationPool = 1000;

bool Listed(const std::vector<Recommendation>& list, std::string_view item) {
  return std::any_of(list.begin(), list.end(),
                     [&](const Recommendation& r) { return r.item == item; });
}

}  // namespace

Result<std::vector<Recommendation>> Brain::Recommend(std::string_view user, size_t count,
                                                     int64_t now_ms) const {
  if (!IsValidId(user)) return Status(Code::kBadField, "user: expected an id");
  if (count < 1 || count > 1000) return Status(Code::kBadField, "count: expected 1 to 1000");
  const State& s = *state_;
  // What the ranking needs is copied under the lock; the ranking itself runs without it, so
  // that events keep flowing in meanwhile.
  std::shared_ptr<const Models> models;
  std::vector<uint32_t> history, purchased;
  {
    std::shared_lock lock(s.mutex);
    const auto found = s.user_index.find(std::string(user));
    models = s.models;
    if (found != s.user_index.end() && models != nullptr) {
      const UserProfile& profile = s.users[found->second];
      // Items newer than the models are unknown to them: the retrievers see the others.
      for (const internal::RecentItem& recent : profile.recent) {
        if (recent.item < models->items) history.push_back(recent.item);
      }
      purchased = profile.purchased;
    }
  }
  thread_local std::unique_ptr<internal::Workspace> workspace;
  std::vector<std::pair<uint32_t, float>> ranked;
  const internal::UserView view{history, purchased};
  if (!history.empty()) {
    if (workspace == nullptr || workspace->markov.size() != models->items) {
      workspace = std::make_unique<internal::Workspace>(models->items);
    }
    ranked = internal::RankForUser(*models, view, workspace.get());
  }
  std::shared_lock lock(s.mutex);
  std::vector<Recommendation> list;
  for (const auto& [item, score] : ranked) {
    if (list.size() == count) break;
    list.push_back({s.item_ids[item], score, s.Reason(*models, view, *workspace, item)});
  }
  if (list.size() < count) {
    const auto found = s.user_index.find(std::string(user));
    const UserProfile* profile = found == s.user_index.end() ? nullptr : &s.users[found->second];
    std::vector<Recommendation> more = s.Cold(profile, user, count - list.size(), now_ms, list);
    // Below everything ranked before them, in their own order.
    const double floor = list.empty() ? 0.0 : list.back().score;
    for (size_t i = 0; i < more.size(); ++i) more[i].score = floor - 1 - static_cast<double>(i);
    list.insert(list.end(), std::make_move_iterator(more.begin()),
                std::make_move_iterator(more.end()));
  }
  return list;
}

std::string Brain::State::Reason(const Models& m, const internal::UserView& view,
                                 const internal::Workspace& workspace, uint32_t item) const {
  const size_t window = std::min(view.items.size(), static_cast<size_t>(m.options.markov_window));
  for (size_t p = 0; p < window; ++p) {
    const uint32_t before = view.items[view.items.size() - 1 - p];
    if (m.transitions.Get(before, item) > 0) return "often bought after " + item_ids[before];
  }
  float best = 0;
  uint32_t with = 0;
  for (const uint32_t seen : view.items) {
    const float sim = m.neighbours.Get(seen, item);
    if (sim > best) {
      best = sim;
      with = seen;
    }
  }
  if (best > 0) return "bought together with " + item_ids[with];
  if (workspace.embedding[item] > 0) return "like your recent items";
  return "popular";
}

std::vector<Recommendation> Brain::State::Cold(const UserProfile* profile, std::string_view user_id,
                                               size_t count, int64_t now_ms,
                                               const std::vector<Recommendation>& already) const {
  const auto bought = [&](uint32_t item) {
    return profile != nullptr && internal::Contains(profile->purchased, item);
  };
  const auto skip = [&](uint32_t item) { return bought(item) || Listed(already, item_ids[item]); };
  // The user's own categories first (by affinity now), else the categories selling most.
  std::vector<std::pair<double, int32_t>> tastes;
  if (profile != nullptr) {
    for (const auto& [category, counter] : profile->categories) {
      tastes.emplace_back(counter.At(now_ms, half_life_ms), category);
    }
    std::sort(tastes.begin(), tastes.end(), std::greater<>());
  }
  const bool personal = !tastes.empty();
  if (!personal) {
    for (const uint32_t c : top_categories.Top(3, [](uint32_t) { return false; })) {
      tastes.emplace_back(0.0, static_cast<int32_t>(c));
    }
  }
  const size_t explore = std::min(options.exploration_slots, count);
  const size_t wanted = count - explore;
  std::vector<Recommendation> list;
  const auto taken = [&](uint32_t item) { return skip(item) || Listed(list, item_ids[item]); };
  // Alternate: an item of the next category, then one popular now.
  const std::vector<uint32_t> popular = trending.Top(wanted + already.size() + 8, skip);
  size_t next_popular = 0, round = 0;
  while (list.size() < wanted) {
    const size_t before = list.size();
    if (!tastes.empty()) {
      const int32_t category = tastes[round % tastes.size()].second;
      const auto top = categories[static_cast<size_t>(category)].items.Top(1, taken);
      if (!top.empty()) {
        list.push_back({item_ids[top[0]], 0,
                        (personal ? "you like " : "popular in ") + category_names[category]});
      }
    }
    while (list.size() < wanted && next_popular < popular.size()) {
      const uint32_t item = popular[next_popular++];
      if (taken(item)) continue;
      list.push_back({item_ids[item], 0, "popular now"});
      break;
    }
    ++round;
    if (list.size() == before && round > tastes.size()) break;  // nothing left to offer
  }
  // Short of items anybody bought (a young shop, a catalogue just loaded): the catalogue's
  // newest items nobody bought yet, of the user's categories first, from the same bounded look
  // as exploration, so that a new item gets its category as its prior.
  if (list.size() < wanted) {
    const auto liked = [&](int32_t category) {
      return category >= 0 && personal &&
             std::any_of(tastes.begin(), tastes.end(),
                         [&](const auto& taste) { return taste.second == category; });
    };
    for (int pass = 0; pass < 2 && list.size() < wanted; ++pass) {
      for (size_t i = unsold.size();
           i-- > 0 && unsold.size() - i <= kExplorationPool && list.size() < wanted;) {
        const uint32_t item = unsold[i];
        const int32_t category = items[item].category;
        if (items[item].purchases.Key(half_life_ms) != -INFINITY || taken(item)) continue;
        if (pass == 0 && !liked(category)) continue;
        list.push_back(
            {item_ids[item], 0, category >= 0 ? "new in " + category_names[category] : "new"});
      }
    }
  }
  // Exploration: an item nobody bought yet, else one from further down the popular list,
  // picked by a hash of the user and the hour so that it changes over time.
  uint64_t pick = StableHash64(user_id) ^ static_cast<uint64_t>(now_ms / 3'600'000) ^ options.seed;
  for (size_t e = 0; e < explore;
       ++e, pick = pick * 6364136223846793005ull + 1442695040888963407ull) {
    // The newest unsold items: a bounded look, whatever the catalogue's size.
    std::vector<uint32_t> pool;
    for (size_t i = unsold.size(); i-- > 0 && unsold.size() - i <= kExplorationPool;) {
      const uint32_t item = unsold[i];
      if (items[item].purchases.Key(half_life_ms) == -INFINITY && !taken(item)) {
        pool.push_back(item);
      }
    }
    const char* reason = "explore: new";
    if (pool.empty()) {
      pool = trending.Top(200, taken);
      reason = "explore";
    }
    if (pool.empty()) break;
    list.push_back({item_ids[pool[pick % pool.size()]], 0, reason});
  }
  return list;
}

}  // namespace surge::brain
