// The ranker's features: the one definition that training and serving share.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

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
  const float* row = &models.embeddings[a * dim];
  float sum = 0;
  for (size_t d = 0; d < dim; ++d) sum += row[d] * b[d];
  return sum;
}

// Writes, for each candidate, its 0-based rank among the candidates by `score` (descending;
// ties broken by item index, so that a row does not depend on the list's order) into column
// `feature` of `rows`.
template <typename Score>
void WriteRanks(std::span<const uint32_t> candidates, Score score, size_t feature,
                std::span<float> rows) {
  std::vector<uint32_t> order(candidates.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const float x = score(a), y = score(b);
    return x > y || (x == y && candidates[a] < candidates[b]);
  });
  for (size_t r = 0; r < order.size(); ++r) {
    rows[order[r] * kFeatureCount + feature] = static_cast<float>(r);
  }
}

}  // namespace

const char* FeatureName(size_t feature) {
  SURGE_ASSERT(feature < kFeatureCount);
  return kNames[feature];
}

void ComputeFeatures(const Models& models, const UserView& user, const Workspace& workspace,
                     std::span<const uint32_t> candidates, std::span<float> rows) {
  SURGE_ASSERT(rows.size() == candidates.size() * kFeatureCount);
  const size_t length = user.items.size();
  const bool has_last = length >= 1, has_second = length >= 2;
  const uint32_t last = has_last ? user.items[length - 1] : 0;
  const uint32_t second = has_second ? user.items[length - 2] : 0;
  const auto dim = static_cast<size_t>(models.embedding_dim);
  const bool has_user_vector = !workspace.user_vector.empty();
  const std::span<const float> last_vector =
      has_last && dim > 0 ? std::span<const float>(&models.embeddings[last * dim], dim)
                          : std::span<const float>();
  float user_popularity = 0;
  for (const uint32_t item : user.items) user_popularity += models.popularity.score[item];
  user_popularity = length > 0 ? user_popularity / static_cast<float>(length) : kMissing;
  double price_sum = 0;
  size_t priced = 0;
  for (const uint32_t item : user.items) {
    if (!models.price.empty() && std::isfinite(models.price[item])) {
      price_sum += models.price[item];
      ++priced;
    }
  }
  const float knn_scale = workspace.knn_max > 0 ? 1.0f / workspace.knn_max : 0.0f;
  for (size_t c = 0; c < candidates.size(); ++c) {
    const uint32_t item = candidates[c];
    float* row = &rows[c * kFeatureCount];
    row[kBlend] = workspace.blend[item];
    row[kMarkov] = workspace.markov[item];
    row[kMarkovLast] = has_last ? models.transitions.Get(last, item) : kMissing;
    row[kMarkovSecond] = has_second ? models.transitions.Get(second, item) : kMissing;
    row[kKnn] = workspace.knn[item] * knn_scale;
    row[kKnnLast] = has_last ? models.neighbours.Get(last, item) : kMissing;
    row[kEmbeddingUser] = has_user_vector ? Dot(models, item, workspace.user_vector) : kMissing;
    row[kEmbeddingLast] = !last_vector.empty() ? Dot(models, item, last_vector) : kMissing;
    row[kPopularity] = models.popularity.score[item];
    row[kPopularityRank] = std::log2(1.0f + static_cast<float>(models.popularity.rank[item]));
    row[kHistoryLength] = static_cast<float>(length);
    row[kUserPopularity] = user_popularity;
    row[kPopularityGap] = models.popularity.score[item] - user_popularity;
    row[kOutLast] = has_last ? std::log1p(models.transition_out[last]) : kMissing;
    row[kInItem] = std::log1p(models.transition_in[item]);
    // How many items ago the user last had this item (viewed or carted: bought ones are
    // excluded from the candidates).
    row[kSeenRecency] = kMissing;
    for (size_t p = length; p-- > 0;) {
      if (user.items[p] == item) {
        row[kSeenRecency] = static_cast<float>(length - 1 - p);
        break;
      }
    }
    row[kCategoryShare] = kMissing;
    if (!models.category.empty() && models.category[item] >= 0 && length > 0) {
      size_t same = 0;
      for (const uint32_t seen : user.items) same += models.category[seen] == models.category[item];
      row[kCategoryShare] = static_cast<float>(same) / static_cast<float>(length);
    }
    row[kPriceRatio] = kMissing;
    if (priced > 0 && std::isfinite(models.price[item]) && price_sum > 0) {
      row[kPriceRatio] = static_cast<float>(models.price[item] / (price_sum / priced));
    }
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
