// The ranker's features: the values of each column on a tiny hand-made case, and that the one
// function gives the same rows however it is reached.
#include <cmath>

#include "brain/models.h"
#include "gtest/gtest.h"

namespace surge::brain::internal {
namespace {

const std::vector<std::vector<uint32_t>> kSequences = {
    {0, 1, 2}, {0, 1, 3}, {0, 1, 2}, {4, 5}, {4, 5, 6}};

size_t Column(const char* name) {
  for (size_t f = 0; f < kFeatureCount; ++f) {
    if (std::string_view(FeatureName(f)) == name) return f;
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

class FeaturesTest : public ::testing::Test {
 protected:
  FeaturesTest() {
    // The options the hand-computed values assume (not the defaults, which validation
    // chooses and may move).
    ModelOptions options;
    options.transition_span = 1;
    options.markov_window = 3;
    options.markov_decay = 0.6;
    options.knn_alpha = 0.5;
    options.knn_decay = 1.0;
    options.blend_knn = 0.3;
    options.blend_embedding = 0.1;
    options.blend_popularity = 0.01;
    options.embedding_dim = 2;
    options.threads = 1;
    models_ = BuildModels(kSequences, 7, options);
  }
  std::vector<float> Rows(std::span<const uint32_t> history, std::span<const uint32_t> excluded,
                          std::span<const uint32_t> candidates) {
    Workspace workspace(7);
    const UserView user{history, excluded};
    Retrieve(models_, user, &workspace);
    std::vector<float> rows(candidates.size() * kFeatureCount);
    ComputeFeatures(models_, user, workspace, candidates, rows);
    return rows;
  }
  Models models_;
};

TEST_F(FeaturesTest, ColumnsHoldWhatTheyNameOnAHandMadeCase) {
  const std::vector<uint32_t> history = {0, 1};
  const std::vector<uint32_t> excluded = {0, 1};
  const std::vector<uint32_t> candidates = {2, 3, 5};
  const std::vector<float> rows = Rows(history, excluded, candidates);
  auto at = [&](size_t candidate, const char* name) {
    return rows[candidate * kFeatureCount + Column(name)];
  };
  EXPECT_FLOAT_EQ(at(0, "markov_last"), 2.0f / 3);  // P(2 | 1)
  EXPECT_FLOAT_EQ(at(1, "markov_last"), 1.0f / 3);  // P(3 | 1)
  EXPECT_FLOAT_EQ(at(2, "markov_last"), 0.0f);
  EXPECT_FLOAT_EQ(at(0, "markov_second"), 0.0f);  // P(2 | 0): 2 never directly follows 0
  EXPECT_FLOAT_EQ(at(0, "markov"), 2.0f / 3);
  EXPECT_FLOAT_EQ(at(0, "knn"), 1.0f);  // the largest kNN score of the user
  EXPECT_FLOAT_EQ(at(2, "knn"), 0.0f);
  EXPECT_FLOAT_EQ(at(1, "knn_last"), 1.0f / std::sqrt(3.0f));  // sim(1, 3)
  EXPECT_FLOAT_EQ(at(0, "history_length"), 2.0f);
  EXPECT_FLOAT_EQ(at(0, "popularity"), models_.popularity.score[2]);
  EXPECT_FLOAT_EQ(at(1, "popularity_rank"), std::log2(1.0f + models_.popularity.rank[3]));
  EXPECT_FLOAT_EQ(at(0, "user_popularity"), 1.0f);  // items 0 and 1 are the most bought
  EXPECT_FLOAT_EQ(at(2, "popularity_gap"), models_.popularity.score[5] - 1.0f);
  EXPECT_FLOAT_EQ(at(0, "out_last"), std::log1p(3.0f));
  EXPECT_FLOAT_EQ(at(0, "in_item"), std::log1p(2.0f));
  EXPECT_FLOAT_EQ(at(0, "blend_rank"), 0.0f);
  EXPECT_FLOAT_EQ(at(1, "blend_rank"), 1.0f);
  EXPECT_FLOAT_EQ(at(2, "blend_rank"), 2.0f);
  EXPECT_FLOAT_EQ(at(0, "markov_rank"), 0.0f);
  EXPECT_FLOAT_EQ(at(2, "markov_rank"), 2.0f);
  EXPECT_TRUE(std::isnan(at(0, "seen_recency")));    // not in the history
  EXPECT_TRUE(std::isnan(at(0, "category_share")));  // no categories known
  EXPECT_TRUE(std::isnan(at(0, "price_ratio")));
  EXPECT_FALSE(std::isnan(at(0, "embedding_user")));
  EXPECT_LE(at(0, "embedding_user"), 1.0001f);
}

TEST_F(FeaturesTest, HistoryCategoriesAndPricesWhenKnown) {
  models_.category = {0, 0, 0, 1, 1, 1, 1};
  models_.price = {100, 300, 50, NAN, 1000, 10, 20};
  const std::vector<uint32_t> history = {0, 3, 1};  // 3 was only viewed: not excluded
  const std::vector<uint32_t> excluded = {0, 1};
  const std::vector<uint32_t> candidates = {2, 3};
  const std::vector<float> rows = Rows(history, excluded, candidates);
  auto at = [&](size_t candidate, const char* name) {
    return rows[candidate * kFeatureCount + Column(name)];
  };
  EXPECT_FLOAT_EQ(at(0, "category_share"), 2.0f / 3);
  EXPECT_FLOAT_EQ(at(1, "category_share"), 1.0f / 3);
  EXPECT_FLOAT_EQ(at(0, "price_ratio"), 50.0f / 200.0f);  // mean of the known: (100 + 300) / 2
  EXPECT_TRUE(std::isnan(at(1, "price_ratio")));
  EXPECT_FLOAT_EQ(at(1, "seen_recency"), 1.0f);  // one item ago
  EXPECT_TRUE(std::isnan(at(0, "seen_recency")));
}

TEST_F(FeaturesTest, ARowDependsOnTheCandidateNotOnItsPlaceInTheList) {
  const std::vector<uint32_t> history = {4};
  const std::vector<uint32_t> excluded = {4};
  const std::vector<uint32_t> forward = {5, 6, 0};
  const std::vector<uint32_t> backward = {0, 6, 5};
  const std::vector<float> a = Rows(history, excluded, forward);
  const std::vector<float> b = Rows(history, excluded, backward);
  for (size_t f = 0; f < kFeatureCount; ++f) {
    for (size_t c = 0; c < 3; ++c) {
      const float x = a[c * kFeatureCount + f], y = b[(2 - c) * kFeatureCount + f];
      EXPECT_TRUE((std::isnan(x) && std::isnan(y)) || x == y) << FeatureName(f) << " " << c;
    }
  }
}

}  // namespace
}  // namespace surge::brain::internal
