// Forest through its public header, against XGBoost itself: the same scores as XGBoost's own
// predictor for every supported objective (missing values included), models that learn, the
// Save/Load round trip, and the checks on what Train is given.
#include "trees/trees.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "trees/model.h"

namespace surge::trees {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Synthetic rows: uniform features in [-1, 1], a fraction missing. The signal is non-linear
// (an interaction and a threshold) so that deep trees have something to find.
struct Synthetic {
  size_t rows = 0;
  size_t columns = 0;
  std::vector<float> features;
  std::vector<float> signal;  // the noise-free score behind the labels
  std::vector<float> labels;
  std::vector<uint32_t> groups;

  Dataset View() const { return Dataset{rows, columns, features, labels, groups, {}}; }
};

Synthetic Make(size_t rows, size_t columns, double missing, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  Synthetic data{rows, columns, {}, {}, {}, {}};
  data.features.resize(rows * columns);
  for (float& value : data.features) {
    value = std::uniform_real_distribution<double>(0, 1)(random) < missing ? kNaN : uniform(random);
  }
  for (size_t r = 0; r < rows; ++r) {
    auto x = [&](size_t c) {
      const float value = data.features[r * columns + c % columns];
      return std::isnan(value) ? 0.0f : value;
    };
    const float signal = 2 * x(0) - x(1) + 2 * x(2) * x(3) + (x(4) > 0.3f ? 1.0f : -0.5f);
    data.signal.push_back(signal);
    data.labels.push_back(signal + noise(random));
  }
  return data;
}

Synthetic MakeBinary(size_t rows, size_t columns, uint64_t seed) {
  Synthetic data = Make(rows, columns, 0.1, seed);
  for (float& label : data.labels) label = label > 0 ? 1.0f : 0.0f;
  return data;
}

// Queries of 20 rows each, graded 0..3 by the noisy score within the query.
Synthetic MakeRanking(size_t rows, size_t columns, uint64_t seed) {
  Synthetic data = Make(rows, columns, 0.1, seed);
  for (float& label : data.labels) label = std::clamp(std::floor(label + 1.5f), 0.0f, 3.0f);
  for (size_t r = 0; r < rows; r += 20) {
    data.groups.push_back(static_cast<uint32_t>(std::min<size_t>(20, rows - r)));
  }
  return data;
}

// One XGBoost thread: on a shared, loaded machine its OpenMP barriers make two threads slower.
TrainOptions Options() {
  TrainOptions options;
  options.threads = 1;
  return options;
}

void ExpectSameAsXgboost(const Forest& forest, const std::vector<float>& rows) {
  const size_t count = rows.size() / forest.columns();
  std::vector<float> ours(count);
  forest.Predict(rows, forest.columns(), ours);
  auto theirs = forest.PredictWithXgboost(rows, forest.columns());
  ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
  ASSERT_EQ(theirs->size(), count);
  size_t identical = 0;
  for (size_t r = 0; r < count; ++r) {
    const float want = (*theirs)[r];
    ASSERT_LE(std::abs(ours[r] - want), 1e-5f * std::max(std::abs(want), 1e-3f))
        << "row " << r << ": ours " << ours[r] << ", XGBoost " << want;
    identical += ours[r] == want ? 1 : 0;
  }
  // The sums are done in XGBoost's order, so nearly all scores should agree to the bit.
  EXPECT_GE(identical, count * 99 / 100) << identical << " of " << count << " identical";
}

class Objectives : public testing::TestWithParam<std::string> {};

TEST_P(Objectives, ScoresEqualXgboostsOwnPredictor) {
  const std::string objective = GetParam();
  const bool ranking = objective.starts_with("rank:");
  const Synthetic train = objective == "binary:logistic" ? MakeBinary(3000, 24, 1)
                          : ranking                      ? MakeRanking(3000, 24, 1)
                                                         : Make(3000, 24, 0.1, 1);
  TrainOptions options = Options();
  options.objective = objective;
  options.rounds = 40;
  options.max_depth = 6;
  options.subsample = 0.8;
  auto forest = Forest::Train(train.View(), options);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  EXPECT_EQ(forest->tree_count(), 40u);
  EXPECT_EQ(forest->columns(), 24u);
  EXPECT_EQ(forest->objective(), objective);
  // Fresh rows with more missing values than training saw (so default directions matter),
  // enough of them to go through several threads.
  ExpectSameAsXgboost(*forest, Make(6000, 24, 0.25, 2).features);
  // And the training rows themselves, whose values sit exactly on XGBoost's bin boundaries.
  ExpectSameAsXgboost(*forest, train.features);
}

INSTANTIATE_TEST_SUITE_P(Trees, Objectives,
                         testing::Values("binary:logistic", "rank:pairwise", "rank:ndcg",
                                         "reg:squarederror", "reg:absoluteerror"));

TEST(Forest, DeepTreesUseTheExplicitLayoutAndStillMatch) {
  const Synthetic train = Make(4000, 10, 0.1, 3);
  TrainOptions options = Options();
  options.objective = "reg:squarederror";
  options.rounds = 8;
  options.max_depth = 12;
  options.min_child_weight = 0;
  auto forest = Forest::Train(train.View(), options);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  auto model = internal::DecodeModel(forest->Save());
  ASSERT_TRUE(model.ok());
  uint32_t deepest = 0;
  for (const auto& tree : model->trees) deepest = std::max(deepest, internal::TreeDepth(tree));
  EXPECT_GT(deepest, 8u) << "no tree deep enough to test the explicit layout";
  ExpectSameAsXgboost(*forest, Make(3000, 10, 0.25, 4).features);
}

double Auc(const std::vector<float>& scores, const std::vector<float>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positives = 0, negatives = 0, rank_sum = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (labels[order[i]] > 0.5f) {
      positives += 1;
      rank_sum += static_cast<double>(i + 1);
    } else {
      negatives += 1;
    }
  }
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

TEST(Forest, BinaryModelLearnsOnHeldOutRows) {
  TrainOptions options = Options();
  options.rounds = 60;
  auto forest = Forest::Train(MakeBinary(4000, 20, 5).View(), options);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  const Synthetic test = MakeBinary(4000, 20, 6);
  std::vector<float> scores(test.rows);
  forest->Predict(test.features, test.columns, scores);
  const double auc = Auc(scores, test.labels);
  EXPECT_GT(auc, 0.85) << "held-out AUC " << auc;
  for (float score : scores) ASSERT_TRUE(score > 0 && score < 1) << score;
}

TEST(Forest, RankingModelOrdersHeldOutQueries) {
  TrainOptions options = Options();
  options.objective = "rank:ndcg";
  auto forest = Forest::Train(MakeRanking(4000, 20, 7).View(), options);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  const Synthetic test = MakeRanking(4000, 20, 8);
  std::vector<float> scores(test.rows);
  forest->Predict(test.features, test.columns, scores);
  // Of the pairs in one query with different noise-free signal, how many are ordered right.
  size_t right = 0, pairs = 0;
  for (size_t begin = 0; begin < test.rows; begin += 20) {
    for (size_t a = begin; a < begin + 20; ++a) {
      for (size_t b = a + 1; b < begin + 20; ++b) {
        if (std::abs(test.signal[a] - test.signal[b]) < 0.5f) continue;
        ++pairs;
        right += (scores[a] > scores[b]) == (test.signal[a] > test.signal[b]) ? 1 : 0;
      }
    }
  }
  EXPECT_GT(static_cast<double>(right) / static_cast<double>(pairs), 0.8)
      << right << " of " << pairs << " pairs ordered right";
}

TEST(Forest, SaveLoadRoundTripGivesIdenticalScores) {
  TrainOptions options = Options();
  options.rounds = 30;
  auto trained = Forest::Train(MakeBinary(2000, 16, 9).View(), options);
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  const std::string bytes = trained->Save();
  auto loaded = Forest::Load(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->Save(), bytes);
  EXPECT_EQ(loaded->tree_count(), 30u);
  const std::vector<float> rows = Make(3000, 16, 0.2, 10).features;
  std::vector<float> before(3000), after(3000);
  trained->Predict(rows, 16, before);
  loaded->Predict(rows, 16, after);
  EXPECT_EQ(before, after);
  // XGBoost's model travels inside ours, so the reference path survives the round trip too.
  auto theirs_before = trained->PredictWithXgboost(rows, 16);
  auto theirs_after = loaded->PredictWithXgboost(rows, 16);
  ASSERT_TRUE(theirs_before.ok() && theirs_after.ok());
  EXPECT_EQ(*theirs_before, *theirs_after);
  ExpectSameAsXgboost(*loaded, rows);
  // Damage is caught before anything is built; the loaded forest is unaffected.
  std::string damaged = bytes;
  damaged[bytes.size() - 100] ^= 1;
  auto failed = Forest::Load(damaged);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kCorruption);
  auto truncated = Forest::Load(std::string_view(bytes).substr(0, bytes.size() / 2));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), Code::kCorruption);
  std::vector<float> again(3000);
  loaded->Predict(rows, 16, again);
  EXPECT_EQ(again, before);
}

TEST(Forest, PredictWithXgboostChecksTheShape) {
  TrainOptions options = Options();
  options.rounds = 2;
  auto forest = Forest::Train(MakeBinary(200, 8, 11).View(), options);
  ASSERT_TRUE(forest.ok());
  std::vector<float> rows(size_t{8} * 3, 0.5f);
  EXPECT_EQ(forest->PredictWithXgboost(rows, 7).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(forest->PredictWithXgboost(std::span(rows).first(20), 8).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(forest->PredictWithXgboost(rows, 8, -1).status().code(), Code::kInvalidArgument);
  // The thread count changes nothing in the scores, before or after a round trip.
  auto one = forest->PredictWithXgboost(rows, 8, 1);
  auto two = forest->PredictWithXgboost(rows, 8, 2);
  auto loaded = Forest::Load(forest->Save());
  ASSERT_TRUE(one.ok() && two.ok() && loaded.ok());
  auto all = loaded->PredictWithXgboost(rows, 8);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*one, *two);
  EXPECT_EQ(*one, *all);
  auto empty = forest->PredictWithXgboost({}, 8);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

void ExpectInvalid(const Dataset& data, const TrainOptions& options, std::string_view words) {
  auto result = Forest::Train(data, options);
  ASSERT_FALSE(result.ok()) << "accepted; expected an error about " << words;
  EXPECT_EQ(result.status().code(), Code::kInvalidArgument) << result.status().ToString();
  EXPECT_NE(result.status().message().find(words), std::string::npos) << result.status().message();
}

TEST(Forest, TrainRejectsInconsistentData) {
  const Synthetic binary = MakeBinary(100, 4, 12);
  const Synthetic ranking = MakeRanking(100, 4, 12);
  TrainOptions options = Options();
  Dataset data = binary.View();
  data.columns = 5;
  ExpectInvalid(data, options, "not rows 100 * columns 5");
  data = binary.View();
  data.labels = data.labels.first(99);
  ExpectInvalid(data, options, "labels hold 99 values");
  data = binary.View();
  data.rows = 0;
  ExpectInvalid(data, options, "no rows");
  data = binary.View();
  data.group_sizes = ranking.groups;
  ExpectInvalid(data, options, "group_sizes given");
  std::vector<float> bad_labels(binary.labels);
  bad_labels[3] = 2;
  data = binary.View();
  data.labels = bad_labels;
  ExpectInvalid(data, options, "in [0, 1]");
  std::vector<float> infinite(binary.features);
  infinite[4 * 7 + 2] = INFINITY;
  data = binary.View();
  data.features = infinite;
  ExpectInvalid(data, options, "row 7 column 2 is infinite");

  options.objective = "rank:pairwise";
  ExpectInvalid(binary.View(), options, "need group_sizes");
  std::vector<uint32_t> short_groups(ranking.groups);
  short_groups.back() -= 1;
  data = ranking.View();
  data.group_sizes = short_groups;
  ExpectInvalid(data, options, "sum to 99, not to rows 100");
  std::vector<float> weights(ranking.rows, 1.0f);  // rank:* wants one per group
  data = ranking.View();
  data.weights = weights;
  ExpectInvalid(data, options, "one per group");
}

TEST(Forest, TrainRejectsBadOptions) {
  const Synthetic binary = MakeBinary(100, 4, 13);
  auto with = [](auto change) {
    TrainOptions options;
    change(options);
    return options;
  };
  ExpectInvalid(binary.View(), with([](auto& o) { o.objective = "multi:softmax"; }),
                "unsupported objective");
  ExpectInvalid(binary.View(), with([](auto& o) { o.rounds = 0; }), "rounds");
  ExpectInvalid(binary.View(), with([](auto& o) { o.max_depth = 40; }), "max_depth");
  ExpectInvalid(binary.View(), with([](auto& o) { o.learning_rate = 0; }), "learning_rate");
  ExpectInvalid(binary.View(), with([](auto& o) { o.subsample = 1.5; }), "subsample");
  ExpectInvalid(binary.View(), with([](auto& o) { o.threads = 0; }), "threads");
  ExpectInvalid(binary.View(), with([](auto& o) { o.tree_method = "gpu_hist"; }), "tree_method");
}

}  // namespace
}  // namespace surge::trees
