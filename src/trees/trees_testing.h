// Private to src/trees: hand-made models and byte surgery shared by the tests and the fuzz target.
#pragma once

#include <cstring>
#include <string>

#include "common/coding.h"
#include "trees/model.h"

namespace surge::trees::internal {

// A leaf node.
inline Node Leaf(float value) {
  Node node;
  node.value = value;
  return node;
}

// An inner node: left when row[feature] < threshold, `default_left` when missing.
inline Node Split(uint32_t feature, float threshold, bool default_left, uint32_t left,
                  uint32_t right) {
  Node node;
  node.feature = feature;
  node.value = threshold;
  node.default_left = default_left;
  node.left = left;
  node.right = right;
  return node;
}

// A chain of `depth` splits on feature (level % columns) at 0.5, each going left to a leaf worth
// the level and right to the next split (the last one to a leaf worth -1); missing goes left on
// even levels. Past the perfect layout's depth limit it uses the explicit layout.
inline Tree Chain(uint32_t depth, uint32_t columns) {
  Tree tree;
  for (uint32_t level = 0; level < depth; ++level) {
    const auto index = static_cast<uint32_t>(tree.nodes.size());
    tree.nodes.push_back(Split(level % columns, 0.5f, level % 2 == 0, index + 1, index + 2));
    tree.nodes.push_back(Leaf(static_cast<float>(level)));
  }
  tree.nodes.push_back(Leaf(-1.0f));
  return tree;
}

// A small valid model of three trees: an unbalanced shallow one (padded in the perfect layout),
// a single leaf, and a chain of depth 10 (explicit layout). Columns: 4.
inline Model HandModel() {
  Model model;
  model.columns = 4;
  model.objective = "binary:logistic";
  model.transform = Transform::kSigmoid;
  model.base_margin = 0.25f;
  Tree shallow;
  shallow.nodes = {
      Split(0, 1.0f, true, 1, 2),    // x0 < 1 (missing: left)
      Leaf(0.5f),                    //   left leaf at depth 1
      Split(2, -2.0f, false, 3, 4),  //   x2 < -2 (missing: right)
      Split(1, 0.0f, false, 5, 6),   //     x1 < 0 (missing: right)
      Leaf(-0.75f),                  //     right leaf at depth 2
      Leaf(1.5f),                    //       depth 3
      Leaf(2.5f),                    //       depth 3
  };
  model.trees.push_back(shallow);
  Tree single;
  single.nodes = {Leaf(0.125f)};
  model.trees.push_back(single);
  model.trees.push_back(Chain(10, 4));
  return model;
}

// Recomputes the trailing checksum so that a deliberately altered body reaches the checks
// behind it.
inline std::string Reseal(std::string bytes) {
  if (bytes.size() < 4) return bytes;
  const uint32_t crc = Crc32c(std::string_view(bytes).substr(0, bytes.size() - 4));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  return bytes;
}

}  // namespace surge::trees::internal
