#include "trees/evaluator.h"

#include <algorithm>
#include <bit>
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
  // A pass-through node: no key is below 0, so every row goes right.
  perfect_nodes_.resize(perfect_nodes_.size() + inner, PerfectNode{0, 0});
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
    const auto columns = static_cast<uint32_t>(columns_);
    nodes[step.slot] = PerfectNode{node.default_left ? node.feature : columns + node.feature,
                                   OrderKey(node.value)};
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

// Walks kRows rows down one perfect tree of kDepth levels in lockstep, so that the loads of
// different rows overlap instead of waiting on each other. keys: kRows rows of `stride` keys.
template <size_t kRows, uint32_t kDepth>
inline void WalkPerfect(const PerfectNode* nodes, const float* leaves, const uint32_t* keys,
                        size_t stride, float* margins) {
  uint32_t slot[kRows];
  for (size_t r = 0; r < kRows; ++r) slot[r] = 0;
  for (uint32_t level = 0; level < kDepth; ++level) {
    for (size_t r = 0; r < kRows; ++r) {
      const PerfectNode node = nodes[slot[r]];
      const uint32_t left = keys[r * stride + node.key_index] < node.threshold_key ? 1 : 0;
      slot[r] = 2 * slot[r] + 2 - left;
    }
  }
  constexpr uint32_t kFirstLeaf = (1u << kDepth) - 1;
  for (size_t r = 0; r < kRows; ++r) margins[r] += leaves[slot[r] - kFirstLeaf];
}

}  // namespace

uint32_t OrderKey(float value) {
  // Adding +0 turns -0 into +0 and leaves everything else alone.
  const auto bits = std::bit_cast<uint32_t>(value + 0.0f);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

void Evaluator::PerfectBlock(const PerfectTree& tree, const uint32_t* keys, size_t count,
                             float* margins) const {
  SURGE_ASSERT(count == kBlockRows);
  const PerfectNode* nodes = perfect_nodes_.data() + tree.node_offset;
  const float* leaves = perfect_leaves_.data() + tree.leaf_offset;
  const size_t stride = 2 * columns_;
  switch (tree.depth) {
#define SURGE_TREES_DEPTH(depth)                                          \
  case depth:                                                             \
    WalkPerfect<kBlockRows, depth>(nodes, leaves, keys, stride, margins); \
    return;
    SURGE_TREES_DEPTH(0)
    SURGE_TREES_DEPTH(1)
    SURGE_TREES_DEPTH(2)
    SURGE_TREES_DEPTH(3)
    SURGE_TREES_DEPTH(4)
    SURGE_TREES_DEPTH(5)
    SURGE_TREES_DEPTH(6)
    SURGE_TREES_DEPTH(7)
    SURGE_TREES_DEPTH(8)
#undef SURGE_TREES_DEPTH
    default:
      SURGE_ASSERT_MSG(false, "perfect tree deeper than kPerfectDepthMax");
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

void Evaluator::PredictBlock(const float* rows, size_t count, uint32_t* keys, float* scores) const {
  SURGE_ASSERT(count >= 1 && count <= kBlockRows);
  float margins[kBlockRows];
  std::fill_n(margins, kBlockRows, base_margin_);
  if (!perfect_trees_.empty()) {
    // A short block is padded with copies of its first row; their margins are dropped.
    for (size_t r = 0; r < kBlockRows; ++r) {
      const float* row = rows + (r < count ? r : 0) * columns_;
      uint32_t* missing_low = keys + r * 2 * columns_;
      uint32_t* missing_high = missing_low + columns_;
      for (size_t c = 0; c < columns_; ++c) {
        const bool missing = std::isnan(row[c]);
        const uint32_t key = OrderKey(row[c]);
        missing_low[c] = missing ? 0u : key;
        missing_high[c] = missing ? UINT32_MAX : key;
      }
    }
  }
  for (const TreeRef& ref : order_) {
    if (ref.perfect) {
      PerfectBlock(perfect_trees_[ref.index], keys, kBlockRows, margins);
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
  std::vector<uint32_t> keys(perfect_trees_.empty() ? 0 : kBlockRows * 2 * columns_);
  for (size_t row = begin; row < end; row += kBlockRows) {
    const size_t count = std::min(kBlockRows, end - row);
    PredictBlock(rows + row * columns_, count, keys.data(), scores + row);
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
