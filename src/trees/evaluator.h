// Private to src/trees: the fast evaluator, compiled from a valid canonical Model.
//
// Trees no deeper than kPerfectDepthMax are laid out as perfect binary trees in heap order (the
// nodes of level l at [2^l - 1, 2^(l+1) - 1), then 2^depth leaves): a shallower branch is padded
// with pass-through nodes that always go right down to copies of its leaf, so every row walks
// exactly `depth` levels with no test for "is this a leaf", and 16 rows can walk in lockstep
// (in the lanes of one AVX-512 register where the CPU has it). Deeper trees keep an
// explicit-children layout and are walked row by row (as are all trees of very wide models).
//
// Rows are scored in blocks of kBlockRows, tree after tree, adding each tree's leaf in tree
// order, the order XGBoost's CPU predictor uses, so the margins match its float sums. For the
// perfect trees a block's values are first turned into order-preserving unsigned keys (OrderKey),
// twice: once with missing as the smallest key and once with missing as the largest. A node
// whose default is left reads the first copy, a node whose default is right the second, and
// "value < threshold, or missing and default left" becomes one unsigned compare of keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "trees/model.h"

namespace surge::trees::internal {

// Maps floats to uint32 so that a < b (as floats, neither NaN) iff OrderKey(a) < OrderKey(b).
// -0 and +0 map to the same key (they compare equal as floats). No non-NaN float maps to 0 or to
// UINT32_MAX, which are left for missing values.
uint32_t OrderKey(float value);

// One perfect tree, as the walking kernels see it. A row goes left at node i when
// keys[key_index[i]] < threshold_key[i]; key_index is the feature (default left) or columns +
// feature (default right). The arrays may be read up to kPerfectPadding entries past their end.
struct PerfectView {
  const uint32_t* key_index;
  const uint32_t* threshold_key;
  const float* leaves;
  uint32_t depth;
};
inline constexpr size_t kPerfectPadding = 32;

// Whether this CPU runs the AVX-512 kernel.
bool Avx512Available();
// Adds the leaves of `count` (1 to kAvx512Group) consecutive trees of the same depth for 16 rows
// to margins[0..15], tree after tree; keys holds 16 rows of `stride` keys. Requires
// Avx512Available() and stride * 16 < 2^31.
inline constexpr size_t kAvx512Group = 8;
void WalkPerfectAvx512(const PerfectView* trees, size_t count, const uint32_t* keys, size_t stride,
                       float* margins);
// Fills 16 rows of keys (2 * columns each: missing low, then missing high) from `rows`; rows past
// `count` repeat row 0. Requires Avx512Available().
void FillKeysAvx512(const float* rows, size_t count, size_t columns, uint32_t* keys);

class Evaluator {
 public:
  static constexpr uint32_t kPerfectDepthMax = 8;
  // Wider models walk every tree in the explicit layout: the keys of a block of rows (128 bytes
  // per column) would no longer stay in cache, nor be cheap to allocate.
  static constexpr size_t kKeyColumnsMax = 4096;
  static constexpr size_t kBlockRows = 16;
  // Batches smaller than this are scored on the calling thread alone.
  static constexpr size_t kParallelRowsMin = 2048;

  enum class Kernel { kBest, kPortable };

  // kPortable forces the plain C++ kernel (tests compare the two).
  explicit Evaluator(const Model& model, Kernel kernel = Kernel::kBest);

  // rows: count * columns values; scores: count values. threads as in Forest::Predict.
  void Predict(const float* rows, size_t count, float* scores, int threads) const;

  bool uses_avx512() const { return avx512_; }

 private:
  struct PerfectTree {
    uint32_t node_offset;  // into perfect_key_index_ / perfect_threshold_key_: 2^depth - 1
    uint32_t leaf_offset;  // into perfect_leaves_: 2^depth leaves
    uint32_t depth;
  };
  // A node of the explicit layout: leaf when left == kNoChild (value is the leaf).
  struct DeepNode {
    uint32_t left;
    uint32_t right;
    uint32_t feature_flags;  // the top bit is default_left
    float value;
  };
  // Trees run in model order; each entry says which layout holds the tree and where.
  struct TreeRef {
    bool perfect;
    uint32_t index;  // into perfect_trees_, or the root's offset in deep_nodes_
  };

  void AddPerfect(const Tree& tree, uint32_t depth);
  void AddDeep(const Tree& tree);
  void PredictRange(const float* rows, size_t begin, size_t end, float* scores) const;
  // keys: scratch of kBlockRows * 2 * columns_.
  void PredictBlock(const float* rows, size_t count, uint32_t* keys, float* scores) const;
  void FillKeys(const float* rows, size_t count, uint32_t* keys) const;
  PerfectView View(uint32_t perfect_index) const;
  float DeepRow(uint32_t root, const float* row) const;

  size_t columns_;
  Transform transform_;
  float base_margin_;
  bool avx512_;
  std::vector<TreeRef> order_;
  std::vector<PerfectTree> perfect_trees_;
  std::vector<uint32_t> perfect_key_index_;
  std::vector<uint32_t> perfect_threshold_key_;
  std::vector<float> perfect_leaves_;
  std::vector<DeepNode> deep_nodes_;
};

}  // namespace surge::trees::internal
