// Private to src/trees: the fast evaluator, compiled from a valid canonical Model.
//
// Trees no deeper than kPerfectDepthMax are laid out as perfect binary trees (heap order, inner
// nodes then leaves): a shallower branch is padded with pass-through nodes that always go right
// down to copies of its leaf, so every row walks exactly `depth` levels with no test for "is this
// a leaf" and rows can be walked in lockstep. Deeper trees keep an explicit-children layout.
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

// Inner node of the perfect layout: a row goes left when keys[key_index] < threshold_key, where
// key_index is the feature (default left) or columns + feature (default right).
struct PerfectNode {
  uint32_t key_index;
  uint32_t threshold_key;
};

// Maps floats to uint32 so that a < b (as floats, neither NaN) iff OrderKey(a) < OrderKey(b).
// -0 and +0 map to the same key (they compare equal as floats). No non-NaN float maps to 0 or to
// UINT32_MAX, which are left for missing values.
uint32_t OrderKey(float value);

class Evaluator {
 public:
  static constexpr uint32_t kPerfectDepthMax = 8;
  static constexpr size_t kBlockRows = 16;
  // Batches smaller than this are scored on the calling thread alone.
  static constexpr size_t kParallelRowsMin = 2048;

  explicit Evaluator(const Model& model);

  // rows: count * columns values; scores: count values. threads as in Forest::Predict.
  void Predict(const float* rows, size_t count, float* scores, int threads) const;

 private:
  struct PerfectTree {
    uint32_t node_offset;  // into perfect_nodes_: 2^depth - 1 inner nodes
    uint32_t leaf_offset;  // into perfect_leaves_: 2^depth leaves
    uint32_t depth;
  };
  // A node of the explicit layout: leaf when left == kNoChild (value is the leaf).
  struct DeepNode {
    uint32_t left;
    uint32_t right;
    uint32_t feature_flags;
    float value;
  };
  struct DeepTree {
    uint32_t node_offset;
  };
  // Trees run in model order; each entry says which layout holds the tree.
  struct TreeRef {
    bool perfect;
    uint32_t index;
  };

  void AddPerfect(const Tree& tree, uint32_t depth);
  void AddDeep(const Tree& tree);
  void PredictRange(const float* rows, size_t begin, size_t end, float* scores) const;
  // keys: scratch of kBlockRows * 2 * columns_.
  void PredictBlock(const float* rows, size_t count, uint32_t* keys, float* scores) const;
  void PerfectBlock(const PerfectTree& tree, const uint32_t* keys, size_t count,
                    float* margins) const;
  float DeepRow(const DeepTree& tree, const float* row) const;

  size_t columns_;
  Transform transform_;
  float base_margin_;
  std::vector<TreeRef> order_;
  std::vector<PerfectTree> perfect_trees_;
  std::vector<PerfectNode> perfect_nodes_;
  std::vector<float> perfect_leaves_;
  std::vector<DeepTree> deep_trees_;
  std::vector<DeepNode> deep_nodes_;
};

}  // namespace surge::trees::internal
