// Gradient-boosted tree models: training through XGBoost's C API, and a fast evaluator of our own
// that gives the same scores as XGBoost's predictor on the same model.
//
// A Forest is trained once (Train) or read back from bytes written by Save (Load), and is then
// immutable: Predict may be called from any number of threads at once without locking.
//
// Scores follow XGBoost's conventions exactly:
//   - a row goes left at a node when its value < split_condition (compared as float), and takes
//     the node's default direction when the value is missing (NaN);
//   - the margin is base_score's margin plus the sum of the leaves reached, one per tree;
//   - the objective's output transform is applied to the margin: sigmoid for binary:logistic,
//     identity for rank:pairwise, rank:ndcg, rank:map, reg:squarederror and reg:absoluteerror.
// Predict adds the same floats in the same order as XGBoost's CPU predictor (base margin, then
// tree after tree), so its scores agree with PredictWithXgboost's, nearly always to the bit; the
// tests hold them to 1e-5 relative on thousands of random rows with missing values, for every
// objective. Infinite feature values are compared like any other value; Train refuses them.
//
// Speed: Predict scores rows in blocks of 16 through every tree (AVX-512 where the CPU has it),
// splitting batches of 2048 rows or more across threads; see bench/trees_bench.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace surge::trees {

// Training data. The spans are borrowed for the duration of Train only.
struct Dataset {
  size_t rows = 0;
  size_t columns = 0;
  // Row-major, rows * columns values; NaN means "missing".
  std::span<const float> features;
  // One label per row: 0/1 for binary:logistic, a relevance grade (0, 1, 2, ...) for rank:*,
  // any finite value for reg:squarederror and reg:absoluteerror.
  std::span<const float> labels;
  // Ranking objectives only (required there, must be empty otherwise): the rows come grouped
  // by query, group_sizes[i] consecutive rows per query, summing to rows.
  std::span<const uint32_t> group_sizes;
  // Optional: one weight per row (empty = all 1). For rank:* XGBoost wants one weight per group;
  // then give one per group instead.
  std::span<const float> weights;
};

struct TrainOptions {
  // "binary:logistic", "rank:pairwise", "rank:ndcg", "rank:map", "reg:squarederror" or
  // "reg:absoluteerror" (L1: its leaves are medians, for a metric such as WAPE).
  std::string objective = "binary:logistic";
  int rounds = 100;  // number of trees (one per round)
  int max_depth = 6;
  double learning_rate = 0.1;
  double min_child_weight = 1.0;
  double subsample = 1.0;         // fraction of rows sampled per tree, in (0, 1]
  double colsample_bytree = 1.0;  // fraction of columns sampled per tree, in (0, 1]
  double lambda = 1.0;            // L2 regularisation on leaf weights
  double gamma = 0.0;             // minimum loss reduction to split
  int threads = 2;                // XGBoost's nthread while training
  uint64_t seed = 1;
  // "hist" (fast, the default), "approx" or "exact".
  std::string tree_method = "hist";
};

class Forest {
 public:
  // Trains a model with XGBoost. Errors: invalid_argument for inconsistent data (features size
  // != rows * columns, labels size != rows, group sizes not summing to rows, groups given for a
  // non-ranking objective or missing for a ranking one, zero rows or columns) or bad options
  // (unknown objective, rounds < 1, depth outside [1, 16], ...); internal if XGBoost itself
  // fails (its message is included).
  static Result<Forest> Train(const Dataset& data, const TrainOptions& options);

  // Reads a model written by Save. The bytes are checked strictly (magic, version, lengths,
  // checksum, every node's children and feature indices); anything else gives a corruption
  // Status saying what is wrong, and nothing is created. The bytes are not referenced after the
  // call. A model whose bytes carry XGBoost's model (all that Train made) loads it into XGBoost
  // as well, for PredictWithXgboost.
  static Result<Forest> Load(std::string_view bytes);

  // Our own format: the flattened trees and, so that PredictWithXgboost keeps working after a
  // round trip, XGBoost's own model. Load(Save()) predicts exactly the same scores.
  std::string Save() const;

  // Scores `rows` (row-major, scores.size() rows of `columns` values each; NaN = missing) with
  // our own evaluator, writing one transformed score per row. Requires (asserted: a caller's
  // bug, not outside input) columns == this->columns() and rows.size() == scores.size() *
  // columns. `threads` bounds the threads used: 0 = automatic (all cores for large batches, the
  // calling thread alone for small ones), 1 = the calling thread only.
  void Predict(std::span<const float> rows, size_t columns, std::span<float> scores,
               int threads = 0) const;

  // The same scores computed by XGBoost's own predictor (the reference for tests and the
  // benchmark). `threads` is XGBoost's nthread for this call; 0 keeps the booster's own
  // (TrainOptions::threads after Train, all cores after Load). Errors: invalid_argument if
  // columns != this->columns(), the size is not a multiple of it or threads < 0; unavailable if
  // the forest carries no XGBoost model; internal if XGBoost fails. Thread-safe (calls are
  // serialised).
  Result<std::vector<float>> PredictWithXgboost(std::span<const float> rows, size_t columns,
                                                int threads = 0) const;

  size_t columns() const;     // features per row the model expects
  size_t tree_count() const;  // trees in the model
  const std::string& objective() const;

  Forest(Forest&&) noexcept;
  Forest& operator=(Forest&&) noexcept;
  ~Forest();

 private:
  struct Impl;
  explicit Forest(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace surge::trees
