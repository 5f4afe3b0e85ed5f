#include "trees/evaluator.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <thread>

namespace surge::trees::internal {
namespace {

constexpr uint32_t kDefaultLeftBit = 1u << 31;
constexpr uint32_t kFeatureMask = kDefaultLeftBit - 1;

// XGBoost's float sigmoid for binary:logistic (common::Sigmoid in 1.7).
inline float Sigmoid(float margin) { return 1.0f / (1.0f + std::exp(-margin)); }

// Walks 16 rows down one perfect tree of kDepth levels in lockstep, so that the loads of
// different rows overlap instead of waiting on each other.
template <uint32_t kDepth>
void WalkPortable(const PerfectView& tree, const uint32_t* keys, size_t stride, float* margins) {
  constexpr size_t kRows = Evaluator::kBlockRows;
  uint32_t slot[kRows];
  for (size_t r = 0; r < kRows; ++r) slot[r] = 0;
  for (uint32_t level = 0; level < kDepth; ++level) {
    for (size_t r = 0; r < kRows; ++r) {
      const uint32_t node = slot[r];
      const uint32_t left =
          keys[r * stride + tree.key_index[node]] < tree.threshold_key[node] ? 1 : 0;
      slot[r] = 2 * node + 2 - left;
    }
  }
  constexpr uint32_t kFirstLeaf = (1u << kDepth) - 1;
  for (size_t r = 0; r < kRows; ++r) margins[r] += tree.leaves[slot[r] - kFirstLeaf];
}

void WalkPerfectPortable(const PerfectView& tree, const uint32_t* keys, size_t stride,
                         float* margins) {
  switch (tree.depth) {
    case 0:
      return WalkPortable<0>(tree, keys, stride, margins);
    case 1:
      return WalkPortable<1>(tree, keys, stride, margins);
    case 2:
      return WalkPortable<2>(tree, keys, stride, margins);
    case 3:
      return WalkPortable<3>(tree, keys, stride, margins);
    case 4:
      return WalkPortable<4>(tree, keys, stride, margins);
    case 5:
      return WalkPortable<5>(tree, keys, stride, margins);
    case 6:
      return WalkPortable<6>(tree, keys, stride, margins);
    case 7:
      return WalkPortable<7>(tree, keys, stride, margins);
    case 8:
      return WalkPortable<8>(tree, keys, stride, margins);
    default:
      SURGE_ASSERT_MSG(false, "perfect tree deeper than kPerfectDepthMax");
  }
}

}  // namespace

uint32_t OrderKey(float value) {
  // Adding +0 turns -0 into +0 and leaves everything else alone. Negative floats order in
  // reverse of their bits (flip them all); positive ones after every negative (set the top bit).
  const auto bits = std::bit_cast<uint32_t>(value + 0.0f);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

Evaluator::Evaluator(const Model& model, Kernel kernel)
    : columns_(model.columns),
      transform_(model.transform),
      base_margin_(model.base_margin),
      avx512_(kernel == Kernel::kBest && Avx512Available()) {
  SURGE_ASSERT(ValidateModel(model).ok());
  // Key indices reach 2 * columns; the AVX-512 kernel indexes 16 rows of them with int32.
  SURGE_ASSERT(model.columns <= kColumnsMax && kBlockRows * 2 * kColumnsMax < (1u << 31));
  for (const Tree& tree : model.trees) {
    const uint32_t depth = TreeDepth(tree);
    if (depth <= kPerfectDepthMax && columns_ <= kKeyColumnsMax) {
      AddPerfect(tree, depth);
    } else {
      AddDeep(tree);
    }
  }
  perfect_key_index_.resize(perfect_key_index_.size() + kPerfectPadding, 0);
  perfect_threshold_key_.resize(perfect_threshold_key_.size() + kPerfectPadding, 0);
  perfect_leaves_.resize(perfect_leaves_.size() + kPerfectPadding, 0.0f);
}

void Evaluator::AddPerfect(const Tree& tree, uint32_t depth) {
  const uint32_t inner = (1u << depth) - 1;
  const PerfectTree entry{static_cast<uint32_t>(perfect_key_index_.size()),
                          static_cast<uint32_t>(perfect_leaves_.size()), depth};
  // A pass-through node: no key is below 0, so every row goes right.
  perfect_key_index_.resize(perfect_key_index_.size() + inner, 0);
  perfect_threshold_key_.resize(perfect_threshold_key_.size() + inner, 0);
  perfect_leaves_.resize(perfect_leaves_.size() + inner + 1, 0.0f);
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
      perfect_leaves_[entry.leaf_offset + step.slot - inner] = node.value;
      continue;
    }
    if (node.is_leaf()) {
      stack.push_back({step.node, 2 * step.slot + 1});
      stack.push_back({step.node, 2 * step.slot + 2});
      continue;
    }
    const auto columns = static_cast<uint32_t>(columns_);
    perfect_key_index_[entry.node_offset + step.slot] =
        node.default_left ? node.feature : columns + node.feature;
    perfect_threshold_key_[entry.node_offset + step.slot] = OrderKey(node.value);
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
  order_.push_back({false, offset});
}

float Evaluator::DeepRow(uint32_t root, const float* row) const {
  const DeepNode* node = &deep_nodes_[root];
  while (node->left != kNoChild) {
    const float value = row[node->feature_flags & kFeatureMask];
    const bool left =
        std::isnan(value) ? (node->feature_flags & kDefaultLeftBit) != 0 : value < node->value;
    node = &deep_nodes_[left ? node->left : node->right];
  }
  return node->value;
}

void Evaluator::FillKeys(const float* rows, size_t count, uint32_t* keys) const {
  if (avx512_) return FillKeysAvx512(rows, count, columns_, keys);
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

PerfectView Evaluator::View(uint32_t perfect_index) const {
  const PerfectTree& tree = perfect_trees_[perfect_index];
  return PerfectView{perfect_key_index_.data() + tree.node_offset,
                     perfect_threshold_key_.data() + tree.node_offset,
                     perfect_leaves_.data() + tree.leaf_offset, tree.depth};
}

void Evaluator::PredictBlock(const float* rows, size_t count, uint32_t* keys, float* scores) const {
  SURGE_ASSERT(count >= 1 && count <= kBlockRows);
  float margins[kBlockRows];
  std::fill_n(margins, kBlockRows, base_margin_);
  // A short block is padded with copies of its first row; their margins are dropped.
  if (!perfect_trees_.empty()) FillKeys(rows, count, keys);
  const size_t stride = 2 * columns_;
  for (size_t i = 0; i < order_.size();) {
    const TreeRef& ref = order_[i];
    if (!ref.perfect) {
      for (size_t r = 0; r < count; ++r) margins[r] += DeepRow(ref.index, rows + r * columns_);
      ++i;
      continue;
    }
    PerfectView group[kAvx512Group] = {View(ref.index)};
    size_t size = 1;
    // The AVX-512 kernel walks a run of same-depth trees together.
    while (avx512_ && size < kAvx512Group && i + size < order_.size() && order_[i + size].perfect &&
           perfect_trees_[order_[i + size].index].depth == group[0].depth) {
      group[size] = View(order_[i + size].index);
      ++size;
    }
    if (avx512_) {
      WalkPerfectAvx512(group, size, keys, stride, margins);
    } else {
      WalkPerfectPortable(group[0], keys, stride, margins);
    }
    i += size;
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
