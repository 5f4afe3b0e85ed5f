// Tree-model predictions per second: our evaluator against XGBoost's own predictor on the same
// model and the same rows, in the same run. The model is issue 6's reference shape: 100 trees
// of depth 6 over 100 features, trained on synthetic data with a signal spread over many
// features so that the trees are (nearly) full (57 of 64 leaves on average). The headline pair
// is two threads each on 100,000 rows; one thread each is also measured (the per-core figure,
// and much less sensitive to a loaded machine than XGBoost's OpenMP barriers), and 256 rows on
// one thread (a ranker's request).
//
//   build/bench/trees_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// items_per_second is predictions (rows scored) per second.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

#include "trees/trees.h"

namespace {

constexpr size_t kColumns = 100;
constexpr size_t kTrainRows = 20000;
constexpr size_t kBatchRows = 100000;

std::vector<float> Rows(size_t count, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> rows(count * kColumns);
  for (float& value : rows) {
    value = random() % 10 == 0 ? std::numeric_limits<float>::quiet_NaN() : uniform(random);
  }
  return rows;
}

const surge::trees::Forest& Model() {
  static const surge::trees::Forest* forest = [] {
    const std::vector<float> features = Rows(kTrainRows, 1);
    std::vector<float> labels(kTrainRows);
    std::mt19937_64 random(2);
    std::normal_distribution<float> noise(0.0f, 0.5f);
    for (size_t r = 0; r < kTrainRows; ++r) {
      float signal = 0;
      for (size_t c = 0; c < kColumns; ++c) {
        const float x = features[r * kColumns + c];
        if (!std::isnan(x)) signal += (c % 3 == 0 ? x * x : x) * (1.0f + static_cast<float>(c % 7));
      }
      labels[r] = signal + noise(random) > 0 ? 1.0f : 0.0f;
    }
    surge::trees::TrainOptions options;
    options.rounds = 100;
    options.max_depth = 6;
    options.min_child_weight = 0.1;
    options.threads = 2;
    auto trained =
        surge::trees::Forest::Train({kTrainRows, kColumns, features, labels, {}, {}}, options);
    if (!trained.ok()) {
      std::fprintf(stderr, "training failed: %s\n", trained.status().ToString().c_str());
      std::abort();
    }
    return new surge::trees::Forest(std::move(trained).value());
  }();
  return *forest;
}

const std::vector<float>& Batch() {
  static const std::vector<float> rows = Rows(kBatchRows, 3);
  return rows;
}

// Our evaluator; the argument is the number of threads it may use.
void BM_OurEvaluator(benchmark::State& state) {
  const surge::trees::Forest& forest = Model();
  const std::vector<float>& rows = Batch();
  const size_t count = static_cast<size_t>(state.range(1));
  std::vector<float> scores(count);
  const std::span<const float> input(rows.data(), count * kColumns);
  for (auto _ : state) {
    forest.Predict(input, kColumns, scores, static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(scores.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
  state.counters["trees"] = static_cast<double>(forest.tree_count());
}
BENCHMARK(BM_OurEvaluator)
    ->ArgNames({"threads", "rows"})
    ->Args({2, kBatchRows})
    ->Args({1, kBatchRows})
    ->Args({1, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// XGBoost's in-place predictor on a dense matrix (XGBoosterPredictFromDense); the argument is
// its nthread.
void BM_XgboostPredictor(benchmark::State& state) {
  const surge::trees::Forest& forest = Model();
  const std::vector<float>& rows = Batch();
  const int threads = static_cast<int>(state.range(0));
  const size_t count = static_cast<size_t>(state.range(1));
  const std::span<const float> input(rows.data(), count * kColumns);
  // The scores must agree before their speeds are worth comparing.
  std::vector<float> ours(count);
  forest.Predict(input, kColumns, ours);
  auto check = forest.PredictWithXgboost(input, kColumns, threads);
  if (!check.ok()) {
    state.SkipWithError(check.status().ToString().c_str());
    return;
  }
  for (size_t r = 0; r < count; ++r) {
    if (std::abs(ours[r] - (*check)[r]) > 1e-5f * std::max(std::abs((*check)[r]), 1e-3f)) {
      state.SkipWithError("our scores differ from XGBoost's");
      return;
    }
  }
  for (auto _ : state) {
    auto scores = forest.PredictWithXgboost(input, kColumns, threads);
    benchmark::DoNotOptimize(scores);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
}
BENCHMARK(BM_XgboostPredictor)
    ->ArgNames({"threads", "rows"})
    ->Args({2, kBatchRows})
    ->Args({1, kBatchRows})
    ->Args({1, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
