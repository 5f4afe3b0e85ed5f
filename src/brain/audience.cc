// Brain::Audience: the users most likely to buy an item next (targeted marketing).
//
// Candidates come from the evidence the models hold about the item, never from a scan of all
// users: the item's own recent users (a view or a cart is the strongest sign of a coming
// purchase), the recent users of the items that lead to it (transitions), that are bought with
// it (kNN) or whose embeddings are near it, and the recent users of its category, weighed by
// their affinity to it. Every item and category keeps its most recent users only, so one request
// reads at most a few tens of thousands of entries whatever the number of users.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "brain/brain_state.h"
#include "common/ids.h"

namespace surge::brain {
namespace {

// How a source item relates to the target, best first when two relations tie.
enum class Relation : uint8_t { kSelf, kFollowedBy, kTogether, kSimilar, kCategory };

struct Source {
  uint32_t item = 0;
  double weight = 0;
  Relation relation = Relation::kSelf;
};

// The weights of the evidence, relative to an event on the item itself. A transition counts its
// probability P(item | source); kNN its similarity relative to the item's best neighbour; an
// embedding neighbour its cosine; the category the user's affinity a / (a + 3) (a purchase in
// the category counts 3, see KindWeight).
constexpr double kFollowedByWeight = 1.0;
constexpr double kTogetherWeight = 0.3;
constexpr double kSimilarWeight = 0.2;
constexpr double kCategoryWeight = 0.1;
constexpr size_t kEmbeddingSources = 50;
constexpr size_t kMaxSources = 200;
constexpr size_t kMaxCount = 10'000;

struct Candidate {
  double score = 0;
  double best = 0;  // the largest single contribution: its source gives the reason
  uint32_t source = 0;
  Relation relation = Relation::kSelf;
  uint8_t kind = 0;
};

std::string_view Verb(uint8_t kind) {
  switch (static_cast<EventKind>(kind)) {
    case EventKind::kView:
      return "viewed ";
    case EventKind::kCart:
      return "put in the cart ";
    case EventKind::kPurchase:
      return "bought ";
  }
  return "saw ";
}

// The items whose users are the candidates, merged per item (weights add; the relation of the
// larger one stays), the kMaxSources heaviest.
std::vector<Source> Sources(const Models* models, uint32_t item) {
  absl::flat_hash_map<uint32_t, Source> merged;
  const auto add = [&](uint32_t source, double weight, Relation relation) {
    if (weight <= 0) return;
    auto [it, inserted] = merged.try_emplace(source, Source{source, weight, relation});
    if (inserted) return;
    if (weight > it->second.weight) it->second.relation = relation;
    it->second.weight += weight;
  };
  add(item, 1.0, Relation::kSelf);
  if (models != nullptr && item < models->items) {
    const auto before = models->predecessors.Columns(item);
    const auto probability = models->predecessors.Values(item);
    for (size_t k = 0; k < before.size(); ++k) {
      if (before[k] != item)
        add(before[k], kFollowedByWeight * probability[k], Relation::kFollowedBy);
    }
    const auto with = models->neighbours.Columns(item);
    const auto similarity = models->neighbours.Values(item);
    const float best =
        with.empty() ? 0.0f : *std::max_element(similarity.begin(), similarity.end());
    for (size_t k = 0; k < with.size(); ++k) {
      add(with[k], kTogetherWeight * similarity[k] / best, Relation::kTogether);
    }
    const auto dim = static_cast<size_t>(models->embedding_dim);
    if (models->ann != nullptr && dim > 0) {
      const std::span<const float> vector(&models->embeddings[item * dim], dim);
      if (std::any_of(vector.begin(), vector.end(), [](float x) { return x != 0; })) {
        std::vector<std::pair<uint32_t, float>> near;
        models->ann->Search(vector, kEmbeddingSources + 1, &near);
        for (const auto& [other, cosine] : near) {
          if (other != item) add(other, kSimilarWeight * cosine, Relation::kSimilar);
        }
      }
    }
  }
  std::vector<Source> sources;
  sources.reserve(merged.size());
  for (const auto& [source, entry] : merged) sources.push_back(entry);
  const auto heavier = [](const Source& a, const Source& b) {
    return a.weight > b.weight || (a.weight == b.weight && a.item < b.item);
  };
  if (sources.size() > kMaxSources) {
    std::nth_element(sources.begin(), sources.begin() + kMaxSources, sources.end(), heavier);
    sources.resize(kMaxSources);
  }
  return sources;
}

}  // namespace

Result<std::vector<AudienceMember>> Brain::Audience(std::string_view item, size_t count,
                                                    int64_t now_ms) const {
  if (!IsValidId(item)) return Status(Code::kBadField, "sku: expected an id");
  if (count < 1 || count > kMaxCount) return Status(Code::kBadField, "count: expected 1 to 10000");
  const State& s = *state_;
  std::shared_lock lock(s.mutex);
  const auto found = s.item_index.find(std::string(item));
  if (found == s.item_index.end()) return Status(Code::kNotFound, "sku: never seen");
  const uint32_t target = found->second;
  const ItemProfile& profile = s.items[target];
  const auto decay = [&](int64_t time_ms) {
    return now_ms <= time_ms ? 1.0
                             : std::exp2(-static_cast<double>(now_ms - time_ms) / s.half_life_ms);
  };
  absl::flat_hash_map<uint32_t, Candidate> candidates;
  const auto credit = [&](uint32_t user, double amount, uint32_t source, Relation relation,
                          uint8_t kind) {
    Candidate& candidate = candidates[user];
    candidate.score += amount;
    if (amount > candidate.best) candidate = {candidate.score, amount, source, relation, kind};
  };
  for (const Source& source : Sources(s.models.get(), target)) {
    for (const internal::RecentUser& recent : s.items[source.item].recent_users) {
      const double strength = internal::KindWeight(static_cast<EventKind>(recent.kind)) / 3.0;
      credit(recent.user, source.weight * strength * decay(recent.time_ms), source.item,
             source.relation, recent.kind);
    }
  }
  if (profile.category >= 0) {
    const auto category = static_cast<size_t>(profile.category);
    for (const internal::RecentUser& recent : s.categories[category].recent_users) {
      const auto& tastes = s.users[recent.user].categories;
      const auto taste = tastes.find(profile.category);
      if (taste == tastes.end()) continue;
      const double affinity = taste->second.At(now_ms, s.half_life_ms);
      credit(recent.user, kCategoryWeight * affinity / (affinity + 3), 0, Relation::kCategory, 0);
    }
  }
  std::vector<std::pair<double, uint32_t>> ranked;
  ranked.reserve(candidates.size());
  for (const auto& [user, candidate] : candidates) {
    if (candidate.score > 0 && !internal::Contains(s.users[user].purchased, target)) {
      ranked.emplace_back(candidate.score, user);
    }
  }
  const auto better = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  const size_t keep = std::min(count, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(keep), ranked.end(),
                    better);
  std::vector<AudienceMember> audience;
  audience.reserve(keep);
  for (size_t r = 0; r < keep; ++r) {
    const uint32_t user = ranked[r].second;
    const Candidate& why = candidates[user];
    std::string reason;
    switch (why.relation) {
      case Relation::kSelf:
        reason = static_cast<EventKind>(why.kind) == EventKind::kCart ? "put this in the cart"
                                                                      : "viewed this";
        break;
      case Relation::kFollowedBy:
        reason = std::string(Verb(why.kind)) + s.item_ids[why.source] + ", often followed by this";
        break;
      case Relation::kTogether:
        reason = std::string(Verb(why.kind)) + s.item_ids[why.source] +
                 ", often bought together with this";
        break;
      case Relation::kSimilar:
        reason = std::string(Verb(why.kind)) + s.item_ids[why.source] + ", similar to this";
        break;
      case Relation::kCategory:
        reason = "likes " + s.category_names[static_cast<size_t>(profile.category)];
        break;
    }
    audience.push_back({s.user_ids[user], ranked[r].first, std::move(reason)});
  }
  return audience;
}

}  // namespace surge::brain
