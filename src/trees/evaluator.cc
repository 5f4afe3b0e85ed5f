#include "trees/evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

namespace surge::trees::internal {
namespace {

constexpr uint32_t kDefaultLeftBit = 1u << 31;
constexpr uint32_t kFeatureMask = kDefaultLeftBit - 1;

// XGBoost's float sigmoid for binary:logistic (common::Sigmoid in 1.7).
inline float Sigmoid(float margin) { return 1.0f / (1.0f + std::exp(-margin)); }

// A row goes left when value < threshold, or when the value is missing and the node's default
// is left. Written without branches: the direction of a split is unpredictable.
inline uint32_t GoesRight(float value, float threshold, uint32_t feature_flags) {
  const bool left = (value < threshold) | (std::isnan(value) & (feature_flags >> 31));
  return left ? 0u : 1u;
}

}  // namespace

Evaluator::Evaluator(const Model& model)
    : columns_(model.columns), transform_(model.transform), base_margin_(model.base_margin) {
  SURGE_ASSERT(ValidateModel(model).ok());
  SURGE_ASSERT(model.columns <= kFeatureMask);
  for (const Tree& tree : model.trees) {
    const uint32_t depth = TreeDepth(tree);
    if (depth <= kPerfectDepthMax) {
      AddPerfect(tree, depth);
    } else {
      AddDeep(tree);
    }
  }
}

void Evaluator::AddPerfect(const Tree& tree, uint32_t depth) {
  const uint32_t inner = (1u << depth) - 1;
  PerfectTree entry{static_cast<uint32_t>(perfect_nodes_.size()),
                    static_cast<uint32_t>(perfect_leaves_.size()), depth};
  // A pass-through node: NaN compares false and the default is right, so every row goes right.
  perfect_nodes_.resize(perfect_nodes_.size() + inner,
                        PerfectNode{0, std::numeric_limits<float>::quiet_NaN()});
  perfect_leaves_.resize(perfect_leaves_.size() + inner + 1, 0.0f);
  PerfectNode* nodes = perfect_nodes_.data() + entry.node_offset;
  float* leaves = perfect_leaves_.data() + entry.leaf_offset;
  // Walk (canonical node, heap slot) pairs; a leaf above the last level fills its whole subtree
  // of slots so that whichever way a row goes below it, it reaches the same value.
  struct Step {
    uint32_t node;
    uint32_t slot;
  };
  std::vector<Step> stack{{0, 0}};
  while (!stack.empty()) {
    const Step step = stack.back();
    stack.pop_back();
    const Node& node = tree.nodes[step.node];
    if (step.slot >= inner) {
      SURGE_ASSERT(node.is_leaf());
      leaves[step.slot - inner] = node.value;
      continue;
    }
    if (node.is_leaf()) {
      stack.push_back({step.node, 2 * step.slot + 1});
      stack.push_back({step.node, 2 * step.slot + 2});
      continue;
    }
    nodes[step.slot] =
        PerfectNode{node.feature | (node.default_left ? kDefaultLeftBit : 0u), node.value};
    stack.push_back({node.left, 2 * step.slot + 1});
    stack.push_back({node.right, 2 * step.slot + 2});
  }
  order_.push_back({true, static_cast<uint32_t>(perfect_trees_.size())});
  perfect_trees_.push_back(entry);
}

void Evaluator::AddDeep(const Tree& tree) {
  const auto offset = static_cast<uint32_t>(deep_nodes_.size());
  for (const Node& node : tree.nodes) {
    const bool leaf = node.is_leaf();
    deep_nodes_.push_back(
        DeepNode{leaf ? kNoChild : offset + node.left, leaf ? kNoChild : offset + node.right,
                 node.feature | (node.default_left ? kDefaultLeftBit : 0u), node.value});
  }
  order_.push_back({false, static_cast<uint32_t>(deep_trees_.size())});
  deep_trees_.push_back(DeepTree{offset});
}

namespace {

// Walks kRows rows (or `count` when kRows is 0) down one perfect tree in lockstep, so that the
// loads of different rows overlap instead of waiting on each other.
template <size_t kRows>
inline void WalkPerfect(const PerfectNode* nodes, const float* leaves, uint32_t depth,
                        const float* rows, size_t columns, size_t count, float* margins) {
  constexpr size_t kCapacity = kRows == 0 ? 16 : kRows;
  const size_t n = kRows == 0 ? count : kRows;
  uint32_t slot[kCapacity] = {};
  for (uint32_t level = 0; level < depth; ++level) {
    for (size_t r = 0; r < n; ++r) {
      const PerfectNode node = nodes[slot[r]];
      const float value = rows[r * columns + (node.feature_flags & kFeatureMask)];
      slot[r] = 2 * slot[r] + 1 + GoesRight(value, node.threshold, node.feature_flags);
    }
  }
  const uint32_t first_leaf = (1u << depth) - 1;
  for (size_t r = 0; r < n; ++r) margins[r] += leaves[slot[r] - first_leaf];
}

}  // namespace

void Evaluator::PerfectBlock(const PerfectTree& tree, const float* rows, size_t count,
                             float* margins) const {
  const PerfectNode* nodes = perfect_nodes_.data() + tree.node_offset;
  const float* leaves = perfect_leaves_.data() + tree.leaf_offset;
  if (count == kBlockRows) {
    WalkPerfect<kBlockRows>(nodes, leaves, tree.depth, rows, columns_, count, margins);
  } else {
    WalkPerfect<0>(nodes, leaves, tree.depth, rows, columns_, count, margins);
  }
}

float Evaluator::DeepRow(const DeepTree& tree, const float* row) const {
  const DeepNode* node = &deep_nodes_[tree.node_offset];
  while (node->left != kNoChild) {
    const float value = row[node->feature_flags & kFeatureMask];
    node =
        &deep_nodes_[GoesRight(value, node->value, node->feature_flags) ? node->right : node->left];
  }
  return node->value;
}

void Evaluator::PredictBlock(const float* rows, size_t count, float* scores) const {
  SURGE_ASSERT(count <= kBlockRows);
  float margins[kBlockRows];
  std::fill_n(margins, count, base_margin_);
  for (const TreeRef& ref : order_) {
    if (ref.perfect) {
      PerfectBlock(perfect_trees_[ref.index], rows, count, margins);
    } else {
      for (size_t r = 0; r < count; ++r) {
        margins[r] += DeepRow(deep_trees_[ref.index], rows + r * columns_);
      }
    }
  }
  if (transform_ == Transform::kSigmoid) {
    for (size_t r = 0; r < count; ++r) scores[r] = Sigmoid(margins[r]);
  } else {
    std::copy_n(margins, count, scores);
  }
}

void Evaluator::PredictRange(const float* rows, size_t begin, size_t end, float* scores) const {
  for (size_t row = begin; row < end; row += kBlockRows) {
    const size_t count = std::min(kBlockRows, end - row);
    PredictBlock(rows + row * columns_, count, scores + row);
  }
}

void Evaluator::Predict(const float* rows, size_t count, float* scores, int threads) const {
  SURGE_ASSERT(threads >= 0);
  size_t workers = threads == 0 ? std::max(1u, std::thread::hardware_concurrency())
                                : static_cast<size_t>(threads);
  if (count < kParallelRowsMin) workers = 1;
  workers = std::min(workers, (count + kBlockRows - 1) / kBlockRows);
  if (workers <= 1) {
    PredictRange(rows, 0, count, scores);
    return;
  }
  // Equal shares in whole blocks; the calling thread takes the first share.
  const size_t blocks = (count + kBlockRows - 1) / kBlockRows;
  std::vector<std::thread> helpers;
  helpers.reserve(workers - 1);
  for (size_t w = 1; w < workers; ++w) {
    const size_t begin = std::min(count, blocks * w / workers * kBlockRows);
    const size_t end = std::min(count, blocks * (w + 1) / workers * kBlockRows);
    helpers.emplace_back(
        [this, rows, begin, end, scores] { PredictRange(rows, begin, end, scores); });
  }
  PredictRange(rows, 0, std::min(count, blocks / workers * kBlockRows), scores);
  for (std::thread& helper : helpers) helper.join();
}

}  // namespace surge::trees::internal
