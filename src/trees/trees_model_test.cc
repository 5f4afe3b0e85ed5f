// The model format and the evaluator on hand-made and random models, without XGBoost: split
// semantics (strict <, NaN takes the default), padding of shallow branches, the explicit layout
// of deep trees, and the strict checks of Load.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "trees/evaluator.h"
#include "trees/model.h"
#include "trees/trees.h"
#include "trees/trees_testing.h"

namespace surge::trees::internal {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The obvious walk over the canonical model: the reference the evaluator must equal exactly
// (same float additions in the same order).
float ReferenceScore(const Model& model, const float* row) {
  float margin = model.base_margin;
  for (const Tree& tree : model.trees) {
    const Node* node = &tree.nodes[0];
    while (!node->is_leaf()) {
      const float value = row[node->feature];
      const bool left = std::isnan(value) ? node->default_left : value < node->value;
      node = &tree.nodes[left ? node->left : node->right];
    }
    margin += node->value;
  }
  return model.transform == Transform::kSigmoid ? 1.0f / (1.0f + std::exp(-margin)) : margin;
}

std::vector<float> Predict(const Model& model, const std::vector<float>& rows, int threads,
                           Evaluator::Kernel kernel = Evaluator::Kernel::kBest) {
  Evaluator evaluator(model, kernel);
  std::vector<float> scores(rows.size() / model.columns);
  evaluator.Predict(rows.data(), scores.size(), scores.data(), threads);
  return scores;
}

float Margin(float score) { return -std::log(1.0f / score - 1.0f); }

TEST(Evaluator, OrderKeysOrderLikeFloats) {
  const float values[] = {-INFINITY, -3e38f, -1.5f, -1e-40f, -0.0f,   0.0f,
                          1e-45f,    1.0f,   2.5f,  3e38f,   INFINITY};
  for (float a : values) {
    EXPECT_NE(OrderKey(a), 0u);
    EXPECT_NE(OrderKey(a), UINT32_MAX);
    for (float b : values) EXPECT_EQ(a < b, OrderKey(a) < OrderKey(b)) << a << " " << b;
  }
}

TEST(Evaluator, HandModelFollowsSplitSemantics) {
  const Model model = HandModel();
  // Rows chosen to reach each leaf, with values exactly at thresholds (they go right) and NaN.
  const std::vector<float> rows = {
      0.9f, 0.0f, 0.0f, 0.0f,  // x0 < 1: 0.5; chain: x0 0.9 >= 0.5 right, x1 0 < .5 -> 1
      1.0f, -1.f, -3.f, 9.f,   // x0 == 1 right, x2 < -2, x1 < 0: 1.5; chain: right,left -> 1
      kNaN, kNaN, kNaN, kNaN,  // x0 missing left: 0.5; chain level 0 missing left -> 0
      2.0f, kNaN, -3.f, 0.7f,  // x1 missing right: 2.5; chain: right, missing right (odd),
                               // x2 -3 < .5 left at level 2 -> 2
      5.0f, 1.0f, kNaN, 1.0f,  // x2 missing right: -0.75; chain: right, right, missing left
                               // (even) -> 2
      5.0f, 1.0f, 1.0f, 1.0f,  // -0.75; chain all >= 0.5: right to the end -> -1
  };
  const float expected_margins[] = {0.5f + 1, 1.5f + 1, 0.5f + 0, 2.5f + 2, -0.75f + 2, -0.75f - 1};
  const std::vector<float> scores = Predict(model, rows, 1);
  ASSERT_EQ(scores.size(), 6u);
  for (size_t r = 0; r < scores.size(); ++r) {
    EXPECT_NEAR(Margin(scores[r]), 0.25f + expected_margins[r] + 0.125f, 1e-5) << "row " << r;
    EXPECT_EQ(scores[r], ReferenceScore(model, &rows[r * 4])) << "row " << r;
  }
}

// A random valid tree of at most `depth_max` levels over `columns` features (exactly
// `depth_max`, every branch, when `full`).
Tree RandomTree(std::mt19937_64& random, uint32_t depth_max, uint32_t columns, bool full = false) {
  Tree tree;
  std::vector<uint32_t> depth{0};
  tree.nodes.push_back(Leaf(0));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const bool split = depth[i] < depth_max && (full || random() % 4 != 0);
    if (!split) {
      tree.nodes[i].value = uniform(random);
      continue;
    }
    const auto left = static_cast<uint32_t>(tree.nodes.size());
    tree.nodes[i] = Split(static_cast<uint32_t>(random() % columns), uniform(random),
                          random() % 2 == 0, left, left + 1);
    tree.nodes.push_back(Leaf(0));
    tree.nodes.push_back(Leaf(0));
    depth.push_back(depth[i] + 1);
    depth.push_back(depth[i] + 1);
  }
  return tree;
}

std::vector<float> RandomRows(std::mt19937_64& random, size_t count, uint32_t columns) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> rows(count * columns);
  for (float& value : rows) value = random() % 5 == 0 ? kNaN : uniform(random);
  return rows;
}

TEST(Evaluator, RandomModelsEqualTheReferenceWalkExactly) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 40; ++round) {
    Model model;
    model.columns = 1 + static_cast<uint32_t>(random() % 30);
    model.objective = round % 2 == 0 ? "binary:logistic" : "rank:pairwise";
    model.transform = round % 2 == 0 ? Transform::kSigmoid : Transform::kIdentity;
    model.base_margin = static_cast<float>(random() % 100) / 50.0f - 1.0f;
    const uint32_t depth_max = static_cast<uint32_t>(random() % 12);
    for (size_t t = 0, count = 1 + random() % 30; t < count; ++t) {
      model.trees.push_back(RandomTree(random, depth_max, model.columns));
    }
    ASSERT_TRUE(ValidateModel(model).ok()) << ValidateModel(model).ToString();
    // Odd counts leave partial blocks; large ones go through several threads.
    const size_t count = round % 3 == 0 ? 5000 + random() % 100 : 1 + random() % 100;
    const std::vector<float> rows = RandomRows(random, count, model.columns);
    // Both kernels (they are the same one on a CPU without AVX-512).
    const std::vector<float> scores = Predict(model, rows, round % 4);
    const std::vector<float> portable =
        Predict(model, rows, round % 4, Evaluator::Kernel::kPortable);
    for (size_t r = 0; r < count; ++r) {
      const float expected = ReferenceScore(model, &rows[r * model.columns]);
      ASSERT_EQ(scores[r], expected) << "round " << round << " row " << r;
      ASSERT_EQ(portable[r], expected) << "round " << round << " row " << r;
    }
  }
}

TEST(Evaluator, RunsOfFullTreesOfEachDepthEqualTheReference) {
  std::mt19937_64 random(5);
  // 21 trees of one depth: runs of 8, 8 and 5 for a kernel that walks several together.
  for (uint32_t depth = 0; depth <= Evaluator::kPerfectDepthMax + 1; ++depth) {
    Model model;
    model.columns = 40;
    model.objective = "binary:logistic";
    model.transform = Transform::kSigmoid;
    for (int t = 0; t < 21; ++t) model.trees.push_back(RandomTree(random, depth, 40, true));
    ASSERT_EQ(TreeDepth(model.trees[0]), depth);
    const std::vector<float> rows = RandomRows(random, 1000, model.columns);
    const std::vector<float> scores = Predict(model, rows, 1);
    for (size_t r = 0; r < scores.size(); ++r) {
      ASSERT_EQ(scores[r], ReferenceScore(model, &rows[r * model.columns]))
          << "depth " << depth << " row " << r;
    }
  }
}

TEST(Evaluator, WideModelsUseTheExplicitLayout) {
  std::mt19937_64 random(11);
  Model model;
  model.columns = Evaluator::kKeyColumnsMax + 1000;
  model.objective = "reg:squarederror";
  for (int t = 0; t < 20; ++t) model.trees.push_back(RandomTree(random, 6, model.columns));
  const std::vector<float> rows = RandomRows(random, 500, model.columns);
  const std::vector<float> scores = Predict(model, rows, 0);
  for (size_t r = 0; r < scores.size(); ++r) {
    ASSERT_EQ(scores[r], ReferenceScore(model, &rows[r * model.columns])) << "row " << r;
  }
}

TEST(Evaluator, ConcurrentCallersGetTheSameScores) {
  const Model model = HandModel();
  std::mt19937_64 random(3);
  const std::vector<float> rows = RandomRows(random, 10000, model.columns);
  const Evaluator evaluator(model);
  std::vector<float> expected(10000);
  evaluator.Predict(rows.data(), expected.size(), expected.data(), 1);
  std::vector<std::vector<float>> got(4, std::vector<float>(10000));
  std::vector<std::thread> threads;
  threads.reserve(got.size());
  for (auto& scores : got) {
    threads.emplace_back([&] { evaluator.Predict(rows.data(), scores.size(), scores.data(), 0); });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& scores : got) EXPECT_EQ(scores, expected);
}

TEST(Format, RoundTripKeepsEveryField) {
  Model model = HandModel();
  model.xgboost_model = "not really XGBoost";
  const std::string bytes = EncodeModel(model);
  auto decoded = DecodeModel(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->columns, model.columns);
  EXPECT_EQ(decoded->objective, model.objective);
  EXPECT_EQ(decoded->transform, model.transform);
  EXPECT_EQ(std::bit_cast<uint32_t>(decoded->base_margin),
            std::bit_cast<uint32_t>(model.base_margin));
  EXPECT_EQ(decoded->trees, model.trees);
  EXPECT_EQ(decoded->xgboost_model, model.xgboost_model);
  EXPECT_EQ(EncodeModel(*decoded), bytes);
}

TEST(Format, EveryTruncationAndBitFlipIsRejected) {
  const Model model = HandModel();
  const std::string bytes = EncodeModel(model);
  for (size_t length = 0; length < bytes.size(); ++length) {
    auto result = DecodeModel(bytes.substr(0, length));
    ASSERT_FALSE(result.ok()) << "prefix of " << length << " bytes accepted";
    EXPECT_EQ(result.status().code(), Code::kCorruption);
  }
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string damaged = bytes;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    auto result = DecodeModel(damaged);
    ASSERT_FALSE(result.ok()) << "flip of bit " << bit << " accepted";
    EXPECT_EQ(result.status().code(), Code::kCorruption);
  }
}

// Offsets into the encoding of HandModel: magic 8, version 4, columns 4, transform 1, objective
// 1 + 15, base margin 4, tree count 4, then tree 0's node count 4 and its nodes (17 bytes each:
// left, right, feature, value, default_left).
constexpr size_t kColumnsOffset = 12;
constexpr size_t kTransformOffset = 16;
constexpr size_t kTreeCountOffset = 8 + 4 + 4 + 1 + 16 + 4;
constexpr size_t kFirstNodeOffset = kTreeCountOffset + 4 + 4;

std::string Patch32(std::string bytes, size_t offset, uint32_t value) {
  std::memcpy(bytes.data() + offset, &value, 4);
  return Reseal(std::move(bytes));
}

std::string ExpectRejected(const std::string& bytes) {
  auto result = DecodeModel(bytes);
  EXPECT_FALSE(result.ok());
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), Code::kCorruption);
  return result.status().message();
}

TEST(Format, StructuralDamageBehindAValidChecksumIsNamed) {
  const std::string bytes = EncodeModel(HandModel());
  ASSERT_EQ(ExpectRejected(Patch32(bytes, 8, 2)), "model bytes: unknown version 2");
  EXPECT_NE(ExpectRejected(Patch32(bytes, kColumnsOffset, 0)).find("columns 0"), std::string::npos);
  // Node 0 of tree 0 splits on feature 0; feature 4 does not exist.
  EXPECT_NE(ExpectRejected(Patch32(bytes, kFirstNodeOffset + 8, 4)).find("feature 4 >= columns"),
            std::string::npos);
  // Children pointing backwards (a cycle) or out of range.
  EXPECT_NE(ExpectRejected(Patch32(bytes, kFirstNodeOffset, 0)).find("children out of order"),
            std::string::npos);
  EXPECT_NE(ExpectRejected(Patch32(bytes, kFirstNodeOffset + 4, 99)).find("out of range"),
            std::string::npos);
  // Both children of the root the same node.
  EXPECT_FALSE(DecodeModel(Patch32(bytes, kFirstNodeOffset + 4, 1)).ok());
  EXPECT_NE(ExpectRejected(Patch32(bytes, kFirstNodeOffset + 12, std::bit_cast<uint32_t>(kNaN)))
                .find("threshold is NaN"),
            std::string::npos);
  // Node 1 is a leaf: an infinite value is refused.
  EXPECT_NE(
      ExpectRejected(Patch32(bytes, kFirstNodeOffset + 17 + 12, std::bit_cast<uint32_t>(INFINITY)))
          .find("leaf not finite"),
      std::string::npos);
  EXPECT_NE(ExpectRejected(Patch32(bytes, kTreeCountOffset, 1u << 30)).find("tree count"),
            std::string::npos);
  std::string transform = bytes;
  transform[kTransformOffset] = 0;  // identity does not match binary:logistic
  EXPECT_NE(ExpectRejected(Reseal(transform)).find("transform"), std::string::npos);
  std::string trailing = bytes;
  trailing.insert(trailing.size() - 4, "x");
  EXPECT_NE(ExpectRejected(Reseal(trailing)).find("trailing"), std::string::npos);
}

TEST(Format, FailedLoadLeavesAnExistingForestUntouched) {
  const std::string bytes = EncodeModel(HandModel());
  auto forest = Forest::Load(bytes);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  const std::vector<float> row = {2.0f, kNaN, -3.0f, 0.7f};
  float before = 0;
  forest->Predict(row, 4, std::span(&before, 1));
  std::string damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x10;
  auto failed = Forest::Load(damaged);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("checksum"), std::string::npos);
  float after = 0;
  forest->Predict(row, 4, std::span(&after, 1));
  EXPECT_EQ(before, after);
  EXPECT_EQ(forest->Save(), bytes);
  // No XGBoost model inside: the reference path says so rather than guessing.
  EXPECT_EQ(forest->PredictWithXgboost(row, 4).status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace surge::trees::internal
