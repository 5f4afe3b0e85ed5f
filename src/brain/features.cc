// The ranker's features: the one definition that training and serving share.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

#include "brain/linalg.h"
#include "brain/models.h"
#include "common/assert.h"

namespace surge::brain::internal {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

enum Feature : size_t {
  kBlend,
  kMarkov,
  kMarkovLast,
  kMarkovSecond,
  kKnn,
  kKnnLast,
  kEmbeddingUser,
  kEmbeddingLast,
  kPopularity,
  kPopularityRank,
  kHistoryLength,
  kUserPopularity,
  kPopularityGap,
  kOutLast,
  kInItem,
  kBlendRank,
  kMarkovRank,
  kKnnRank,
  kEmbeddingRank,
  kSeenRecency,
  kCategoryShare,
  kPriceRatio,
  kFeatureEnd,
};
static_assert(kFeatureEnd == kFeatureCount);

constexpr const char* kNames[kFeatureCount] = {
    "blend",          "markov",          "markov_last",    "markov_second",  "knn",
    "knn_last",       "embedding_user",  "embedding_last", "popularity",     "popularity_rank",
    "history_length", "user_popularity", "popularity_gap", "out_last",       "in_item",
    "blend_rank",     "markov_rank",     "knn_rank",       "embedding_rank", "seen_recency",
    "category_share", "price_ratio"};

float Dot(const Models& models, uint32_t a, std::span<const float> b) {
  const auto dim = static_cast<size_t>(models.embedding_dim);
  SURGE_ASSERT(b.size() == dim);
  return DotProduct(&models.embeddings[a * dim], b.data(), dim);
}

// Writes, for each candidate, its 0-based rank among the candidates by `score` (descending;
// ties broken by item index, so that a row does not depend on the list's order) into column
// `feature` of `rows`.
template <typename Score>
void WriteRanks(std::span<const uint32_t> candidates, Score score, size_t feature,
                std::span<float> rows) {
  // Sorting (-score, item, position) triples compares plain values, not rows through lambdas:
  // the same order, a few times faster (four of these sorts run per request).
  thread_local std::vector<std::tuple<float, uint32_t, uint32_t>> order;
  order.clear();
  for (uint32_t c = 0; c < candidates.size(); ++c) order.emplace_back(-score(c), candidates[c], c);
  std::sort(order.begin(), order.end());
  for (size_t r = 0; r < order.size(); ++r) {
    rows[std::get<2>(order[r]) * kFeatureCount + feature] = static_cast<float>(r);
  }
}

}  // namespace

const char* FeatureName(size_t feature) {
  SURGE_ASSERT(feature < kFeatureCount);
  return kNames[feature];
}

namespace {

// What the features need to know of the user, computed once per list.
struct UserFacts {
  UserFacts(const Models& models, const UserView& user, const Workspace& workspace)
      : length(user.items.size()),
        last(length >= 1 ? static_cast<int64_t>(user.items[length - 1]) : -1),
        second(length >= 2 ? static_cast<int64_t>(user.items[length - 2]) : -1),
        knn_scale(workspace.knn_max > 0 ? 1.0f / workspace.knn_max : 0.0f) {
    const auto dim = static_cast<size_t>(models.embedding_dim);
    if (last >= 0 && dim > 0) {
      last_vector = {&models.embeddings[static_cast<size_t>(last) * dim], dim};
    }
    float sum = 0;
    for (const uint32_t item : user.items) sum += models.popularity.score[item];
    popularity = length > 0 ? sum / static_cast<float>(length) : kMissing;
    double price_sum = 0;
    size_t priced = 0;
    for (const uint32_t item : user.items) {
      if (!models.price.empty() && std::isfinite(models.price[item])) {
        price_sum += models.price[item];
        ++priced;
      }
    }
    mean_price = priced > 0 && price_sum > 0 ? price_sum / static_cast<double>(priced) : NAN;
  }
  size_t length;
  int64_t last, second;  // -1 when the history is shorter
  float knn_scale;
  std::span<const float> last_vector;
  float popularity;   // mean popularity score of the history
  double mean_price;  // of the history's items with a known price
};

// The features that read the catalogue: how recently the user had the item, the history's share
// of its category, and its price against the history's.
void WriteCatalogueFeatures(const Models& models, const UserView& user, const UserFacts& facts,
                            uint32_t item, float* row) {
  // How many items ago the user last had this item (viewed or carted: bought ones are excluded
  // from the candidates).
  row[kSeenRecency] = kMissing;
  for (size_t p = facts.length; p-- > 0;) {
    if (user.items[p] == item) {
      row[kSeenRecency] = static_cast<float>(facts.length - 1 - p);
      break;
    }
  }
  row[kCategoryShare] = kMissing;
  if (!models.category.empty() && models.category[item] >= 0 && facts.length > 0) {
    size_t same = 0;
    for (const uint32_t seen : user.items) same += models.category[seen] == models.category[item];
    row[kCategoryShare] = static_cast<float>(same) / static_cast<float>(facts.length);
  }
  row[kPriceRatio] = kMissing;
  if (std::isfinite(facts.mean_price) && std::isfinite(models.price[item])) {
    row[kPriceRatio] = static_cast<float>(models.price[item] / facts.mean_price);
  }
}

}  // namespace

void ComputeFeatures(const Models& models, const UserView& user, const Workspace& workspace,
                     std::span<const uint32_t> candidates, std::span<float> rows) {
  SURGE_ASSERT(rows.size() == candidates.size() * kFeatureCount);
  const UserFacts facts(models, user, workspace);
  const auto last = static_cast<uint32_t>(facts.last), second = static_cast<uint32_t>(facts.second);
  const bool has_last = facts.last >= 0, has_second = facts.second >= 0;
  const bool has_user_vector = !workspace.user_vector.empty();
  // The candidates' embedding rows are scattered over the catalogue: ask for them all first so
  // that their cache misses overlap instead of coming one at a time in the loop below.
  const auto dim = static_cast<size_t>(models.embedding_dim);
  if (dim > 0) {
    for (const uint32_t item : candidates) {
      const float* row = &models.embeddings[item * dim];
      for (size_t d = 0; d < dim; d += 16) __builtin_prefetch(row + d);
    }
  }
  for (size_t c = 0; c < candidates.size(); ++c) {
    const uint32_t item = candidates[c];
    float* row = &rows[c * kFeatureCount];
    row[kBlend] = workspace.blend[item];
    row[kMarkov] = workspace.markov[item];
    row[kMarkovLast] = has_last ? models.transitions.Get(last, item) : kMissing;
    row[kMarkovSecond] = has_second ? models.transitions.Get(second, item) : kMissing;
    row[kKnn] = workspace.knn[item] * facts.knn_scale;
    row[kKnnLast] = has_last ? models.neighbours.Get(last, item) : kMissing;
    row[kEmbeddingUser] = has_user_vector ? Dot(models, item, workspace.user_vector) : kMissing;
    row[kEmbeddingLast] =
        !facts.last_vector.empty() ? Dot(models, item, facts.last_vector) : kMissing;
    row[kPopularity] = models.popularity.score[item];
    row[kPopularityRank] = std::log2(1.0f + static_cast<float>(models.popularity.rank[item]));
    row[kHistoryLength] = static_cast<float>(facts.length);
    row[kUserPopularity] = facts.popularity;
    row[kPopularityGap] = models.popularity.score[item] - facts.popularity;
    row[kOutLast] = has_last ? std::log1p(models.transition_out[last]) : kMissing;
    row[kInItem] = std::log1p(models.transition_in[item]);
    WriteCatalogueFeatures(models, user, facts, item, row);
  }
  const auto column = [&](size_t feature) {
    return [&rows, feature](uint32_t c) {
      const float value = rows[c * kFeatureCount + feature];
      return std::isnan(value) ? -std::numeric_limits<float>::infinity() : value;
    };
  };
  WriteRanks(candidates, column(kBlend), kBlendRank, rows);
  WriteRanks(candidates, column(kMarkov), kMarkovRank, rows);
  WriteRanks(candidates, column(kKnn), kKnnRank, rows);
  WriteRanks(candidates, column(kEmbeddingUser), kEmbeddingRank, rows);
}

}  // namespace surge::brain::internal
