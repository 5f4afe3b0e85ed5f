// The evaluator's metrics against hand-computed cases.
#include <cmath>

#include "brain/brain.h"
#include "brain/eval_internal.h"
#include "gtest/gtest.h"

namespace surge::brain {
namespace {

TEST(Metrics, HitAndNdcgAtTen) {
  EXPECT_EQ(HitAtK(0, 10), 1.0);
  EXPECT_EQ(HitAtK(9, 10), 1.0);
  EXPECT_EQ(HitAtK(10, 10), 0.0);
  EXPECT_DOUBLE_EQ(NdcgAtK(0, 10), 1.0);  // 1 / log2(2)
  EXPECT_DOUBLE_EQ(NdcgAtK(1, 10), 1.0 / std::log2(3.0));
  EXPECT_DOUBLE_EQ(NdcgAtK(2, 10), 0.5);        // 1 / log2(4)
  EXPECT_DOUBLE_EQ(NdcgAtK(6, 10), 1.0 / 3.0);  // 1 / log2(8)
  EXPECT_EQ(NdcgAtK(10, 10), 0.0);
}

TEST(Metrics, MeanOverUsers) {
  internal::MetricSum sum;
  sum.Add(0);   // hit, ndcg 1
  sum.Add(2);   // hit, ndcg 0.5
  sum.Add(50);  // miss
  sum.Add(10);  // miss: rank 10 is the 11th place
  const RankMetrics metrics = sum.Get();
  EXPECT_EQ(metrics.users, 4u);
  EXPECT_DOUBLE_EQ(metrics.hit_rate, 0.5);
  EXPECT_DOUBLE_EQ(metrics.ndcg, 1.5 / 4);
}

TEST(Metrics, Wape) {
  // |10-8| + |0-1| + |5-5| + |20-26| = 9 over 35.
  const std::vector<double> actual = {10, 0, 5, 20};
  const std::vector<double> forecast = {8, 1, 5, 26};
  auto wape = Wape(actual, forecast);
  ASSERT_TRUE(wape.ok());
  EXPECT_DOUBLE_EQ(*wape, 9.0 / 35.0);
  EXPECT_DOUBLE_EQ(*Wape(actual, actual), 0.0);
}

TEST(Metrics, WapeRejectsWhatItCannotMeasure) {
  const std::vector<double> zeros = {0, 0};
  const std::vector<double> one = {1};
  const std::vector<double> two = {1, 2};
  const std::vector<double> bad = {1, NAN};
  EXPECT_EQ(Wape(zeros, zeros).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Wape(one, two).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Wape(two, bad).status().code(), Code::kInvalidArgument);
}

// Ties count against the target: with every item scored alike the target is never first.
TEST(Metrics, CappedRankIsPessimisticOnTies) {
  internal::Models models;
  models.items = 6;
  models.popularity.score = {0.5f, 0.5f, 0.5f, 0.5f, 0.9f, 0.1f};
  models.popularity.by_rank = {4, 0, 1, 2, 3, 5};
  internal::Workspace workspace(6);
  workspace.Touch(1);
  workspace.Touch(2);
  workspace.markov[1] = 0.3f;
  workspace.markov[2] = 0.3f;
  const std::vector<uint32_t> excluded = {0};
  auto score = [&](uint32_t item) { return workspace.markov[item]; };
  // Target 2 ties with 1: rank 1. Untouched items score 0 (base weight 0): below.
  EXPECT_EQ(internal::CappedRank(models, workspace, excluded, 2, score, 0.0f), 1u);
  // Target 3 (untouched, score 0) is behind 1 and 2 and ties with 4 and 5 (0 is excluded).
  EXPECT_EQ(internal::CappedRank(models, workspace, excluded, 3, score, 0.0f), 4u);
  // Popularity as base: target 5 (0.1) is behind 1, 2 (0.3), 4 (0.9) and 3 (0.5).
  EXPECT_EQ(internal::CappedRank(models, workspace, excluded, 5, score, 1.0f), 4u);
}

}  // namespace
}  // namespace surge::brain
