// Each retriever on tiny hand-made data, the embeddings' linear algebra, and the ANN index.
#include <cmath>
#include <random>

#include "brain/linalg.h"
#include "brain/models.h"
#include "gtest/gtest.h"

namespace surge::brain::internal {
namespace {

// Items 0-3 go together, 4-6 too.
const std::vector<std::vector<uint32_t>> kSequences = {
    {0, 1, 2}, {0, 1, 3}, {0, 1, 2}, {4, 5}, {4, 5, 6}};

// The options the hand-computed values below assume (not the defaults, which validation
// chooses and may move).
ModelOptions HandOptions() {
  ModelOptions options;
  options.transition_span = 1;
  options.markov_window = 3;
  options.markov_decay = 0.6;
  options.knn_alpha = 0.5;
  options.knn_decay = 1.0;
  options.knn_neighbours = 100;
  options.blend_knn = 0.3;
  options.blend_embedding = 0.1;
  options.blend_popularity = 0.01;
  options.embedding_dim = 0;  // no embeddings unless a test asks
  options.threads = 1;
  return options;
}

Models TinyModels(ModelOptions options = HandOptions()) {
  return BuildModels(kSequences, 7, options);
}

TEST(Popularity, CountsScoresAndRanks) {
  const Popularity popularity = BuildPopularity(kSequences, 7);
  EXPECT_EQ(popularity.count, (std::vector<float>{3, 3, 2, 1, 2, 2, 1}));
  EXPECT_FLOAT_EQ(popularity.score[0], 1.0f);
  EXPECT_FLOAT_EQ(popularity.score[3], std::log1p(1.0f) / std::log1p(3.0f));
  // Ties keep the lower index first.
  EXPECT_EQ(popularity.by_rank, (std::vector<uint32_t>{0, 1, 2, 4, 5, 3, 6}));
  EXPECT_EQ(popularity.rank[4], 3u);
}

TEST(Transitions, NextItemProbabilities) {
  const Models models = TinyModels();
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 1), 1.0f);
  EXPECT_FLOAT_EQ(models.transitions.Get(1, 2), 2.0f / 3);
  EXPECT_FLOAT_EQ(models.transitions.Get(1, 3), 1.0f / 3);
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 2), 0.0f);
  EXPECT_FLOAT_EQ(models.transitions.Get(2, 0), 0.0f);  // nothing follows 2
  EXPECT_FLOAT_EQ(models.transition_out[1], 3.0f);
  EXPECT_FLOAT_EQ(models.transition_in[1], 3.0f);
}

TEST(Transitions, EachItemKeepsItsLikeliestFollowersAndTheirPredecessors) {
  // 0 is followed by 1 (three times), 2 (twice), 3 and 4 (once each: a tie).
  const std::vector<std::vector<uint32_t>> sequences = {{0, 1}, {0, 1}, {0, 1}, {0, 2},
                                                        {0, 2}, {0, 3}, {0, 4}, {5, 1}};
  ModelOptions options = HandOptions();
  options.transition_keep = 3;
  const Models models = BuildModels(sequences, 6, options);
  ASSERT_EQ(models.transitions.Columns(0).size(), 3u);
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 1), 3.0f / 7);  // still over all 7 followers
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 2), 2.0f / 7);
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 3), 1.0f / 7);  // of the tie, the lower index
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 4), 0.0f);
  EXPECT_FLOAT_EQ(models.transition_in[4], 1.0f);  // the feature counts every transition
  // Predecessors: row j lists the items leading to j with P(j | i).
  EXPECT_EQ(std::vector<uint32_t>(models.predecessors.Columns(1).begin(),
                                  models.predecessors.Columns(1).end()),
            (std::vector<uint32_t>{0, 5}));
  EXPECT_FLOAT_EQ(models.predecessors.Get(1, 0), 3.0f / 7);
  EXPECT_FLOAT_EQ(models.predecessors.Get(1, 5), 1.0f);
  EXPECT_TRUE(models.predecessors.Columns(0).empty());
}

TEST(Transitions, SkipsCountLessWithDistance) {
  ModelOptions options = HandOptions();
  options.transition_span = 2;
  options.transition_skip = 0.5;
  const Models models = TinyModels(options);
  // From 0: next 1 three times (weight 1), then 2 twice and 3 once (weight 0.5): 4.5 in all.
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 1), 3.0f / 4.5f);
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 2), 1.0f / 4.5f);
  EXPECT_FLOAT_EQ(models.transitions.Get(0, 3), 0.5f / 4.5f);
}

TEST(Neighbours, CosineWithPopularityDamping) {
  ModelOptions options = HandOptions();
  Models models = TinyModels(options);
  EXPECT_FLOAT_EQ(models.neighbours.Get(0, 1), 3.0f / 3.0f);  // c / sqrt(3 * 3)
  EXPECT_FLOAT_EQ(models.neighbours.Get(0, 2), 2.0f / std::sqrt(6.0f));
  EXPECT_FLOAT_EQ(models.neighbours.Get(2, 0), 2.0f / std::sqrt(6.0f));
  EXPECT_FLOAT_EQ(models.neighbours.Get(0, 4), 0.0f);  // never together
  // alpha 0.8 damps the popular neighbour: sim(3, 0) = 1 / (1^0.2 * 3^0.8).
  options.knn_alpha = 0.8;
  models = TinyModels(options);
  EXPECT_FLOAT_EQ(models.neighbours.Get(3, 0), 1.0f / std::pow(3.0f, 0.8f));
  // Only the best neighbour kept: 0's is 1.
  options.knn_neighbours = 1;
  models = TinyModels(options);
  EXPECT_EQ(models.neighbours.Columns(0).size(), 1u);
  EXPECT_EQ(models.neighbours.Columns(0)[0], 1u);
}

TEST(Retrieve, ScoresCandidatesAndExcludesWhatWasBought) {
  ModelOptions options = HandOptions();
  options.popular_candidates = 2;
  const Models models = TinyModels(options);
  Workspace workspace(7);
  const std::vector<uint32_t> history = {0, 1};
  const std::vector<uint32_t> excluded = {0, 1};
  const UserView user{history, excluded};
  Retrieve(models, user, &workspace);
  // Markov over the last 3 items with decay 0.6: from 1 (weight 1) and from 0 (weight 0.6).
  EXPECT_FLOAT_EQ(workspace.markov[2], 2.0f / 3);
  EXPECT_FLOAT_EQ(workspace.markov[1], 0.6f);
  EXPECT_GT(workspace.knn[3], 0.0f);
  EXPECT_EQ(workspace.knn[5], 0.0f);
  const std::vector<uint32_t> top = TopCandidates(user, workspace, 10);
  ASSERT_GE(top.size(), 2u);
  EXPECT_EQ(top[0], 2u);  // the likeliest next item
  EXPECT_EQ(top[1], 3u);
  for (const uint32_t item : top) EXPECT_FALSE(item == 0 || item == 1);
  // A new event moves the scores: after 4, item 5 leads.
  const std::vector<uint32_t> later = {0, 1, 4};
  Retrieve(models, {later, excluded}, &workspace);
  EXPECT_EQ(TopCandidates({later, excluded}, workspace, 1)[0], 5u);
}

TEST(Linalg, DotProductMatchesThePlainSumAtEveryLength) {
  std::mt19937_64 random(5);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (size_t n = 0; n <= 70; ++n) {
    std::vector<float> a(n), b(n);
    double expected = 0;
    for (size_t i = 0; i < n; ++i) {
      a[i] = uniform(random);
      b[i] = uniform(random);
      expected += static_cast<double>(a[i]) * b[i];
    }
    EXPECT_NEAR(DotProduct(a.data(), b.data(), n), expected, 1e-5) << n;
  }
}

TEST(Linalg, SymmetricEigenOfAKnownMatrix) {
  // [[2, 1], [1, 2]]: eigenvalues 3 and 1, vectors (1, 1) and (1, -1) / sqrt 2.
  std::vector<double> values, vectors;
  SymmetricEigen({2, 1, 1, 2}, 2, &values, &vectors);
  EXPECT_NEAR(values[0], 3, 1e-12);
  EXPECT_NEAR(values[1], 1, 1e-12);
  EXPECT_NEAR(std::fabs(vectors[0 * 2 + 0]), std::sqrt(0.5), 1e-12);
  EXPECT_NEAR(vectors[0 * 2 + 0], vectors[1 * 2 + 0], 1e-12);
  EXPECT_NEAR(vectors[0 * 2 + 1], -vectors[1 * 2 + 1], 1e-12);
}

TEST(Linalg, EigenReconstructsARandomSymmetricMatrix) {
  const size_t n = 12;
  std::mt19937_64 random(7);
  std::normal_distribution<double> gaussian;
  std::vector<double> a(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = gaussian(random);
  }
  std::vector<double> values, vectors;
  SymmetricEigen(a, n, &values, &vectors);
  for (size_t k = 1; k < n; ++k) EXPECT_GE(values[k - 1], values[k]);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double sum = 0;
      for (size_t k = 0; k < n; ++k) sum += vectors[i * n + k] * values[k] * vectors[j * n + k];
      EXPECT_NEAR(sum, a[i * n + j], 1e-9);
    }
  }
}

TEST(Linalg, OrthonormalizeDropsDependentColumns) {
  Columns m{4, 3, {1, 1, 0, 0, /**/ 2, 2, 0, 0, /**/ 0, 1, 1, 0}};
  Orthonormalize(&m);
  auto dot = [&](size_t a, size_t b) {
    double sum = 0;
    for (size_t i = 0; i < 4; ++i) sum += m.column(a)[i] * m.column(b)[i];
    return sum;
  };
  EXPECT_NEAR(dot(0, 0), 1, 1e-12);
  EXPECT_NEAR(dot(1, 1), 0, 1e-12);  // a multiple of the first: gone
  EXPECT_NEAR(dot(2, 2), 1, 1e-12);
  EXPECT_NEAR(dot(0, 2), 0, 1e-12);
}

// Two groups of 12 items; each user buys 6 items of one group in random order.
std::vector<std::vector<uint32_t>> TwoGroups() {
  std::mt19937_64 random(3);
  std::vector<std::vector<uint32_t>> sequences;
  for (int u = 0; u < 400; ++u) {
    std::vector<uint32_t> items(12);
    for (uint32_t i = 0; i < 12; ++i) items[i] = (u % 2) * 12 + i;
    std::shuffle(items.begin(), items.end(), random);
    items.resize(6);
    sequences.push_back(items);
  }
  return sequences;
}

TEST(Embeddings, ItemsOfOneGroupPointTogether) {
  ModelOptions options;
  options.embedding_dim = 4;
  options.threads = 2;
  const Models models = BuildModels(TwoGroups(), 24, options);
  ASSERT_EQ(models.embedding_dim, 4);
  auto cosine = [&](uint32_t a, uint32_t b) {
    float sum = 0;
    for (int d = 0; d < 4; ++d) sum += models.embeddings[a * 4 + d] * models.embeddings[b * 4 + d];
    return sum;
  };
  double same = 0, other = 0;
  for (uint32_t a = 0; a < 12; ++a) {
    for (uint32_t b = 0; b < 12; ++b) {
      if (a != b) same += cosine(a, b) + cosine(a + 12, b + 12);
      other += cosine(a, b + 12);
    }
  }
  same /= 2 * 12 * 11;
  other /= 12 * 12;
  EXPECT_GT(same, 0.5);
  EXPECT_LT(other, 0.2);
  // The ANN index finds an item's own group first.
  std::vector<std::pair<uint32_t, float>> found;
  models.ann->Search(std::span<const float>(&models.embeddings[5 * 4], 4), 12, &found);
  ASSERT_EQ(found.size(), 12u);
  bool itself = false;
  for (const auto& [item, similarity] : found) {
    EXPECT_LT(item, 12u) << similarity;
    itself |= item == 5;
  }
  EXPECT_TRUE(itself);
}

TEST(Embeddings, TheRetrieverReturnsTheUsersGroup) {
  ModelOptions options;
  options.embedding_dim = 4;
  options.ann_neighbours = 8;
  options.threads = 1;
  const Models models = BuildModels(TwoGroups(), 24, options);
  Workspace workspace(24);
  const std::vector<uint32_t> history = {13, 20};
  RetrieveEmbedding(models, {history, {}}, &workspace);
  size_t in_group = 0;
  for (uint32_t item = 0; item < 24; ++item) {
    if (workspace.embedding[item] > 0) in_group += item >= 12 ? 1 : 0;
  }
  EXPECT_GE(in_group, 6u);
  ASSERT_EQ(workspace.user_vector.size(), 4u);
}

}  // namespace
}  // namespace surge::brain::internal
