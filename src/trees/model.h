// Private to src/trees: the canonical model (what Save writes and Load reads), its encoding, and
// its conversion from XGBoost's JSON model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace surge::trees::internal {

// What is applied to the summed margin to give the score.
enum class Transform : uint8_t { kIdentity = 0, kSigmoid = 1 };

inline constexpr uint32_t kNoChild = UINT32_MAX;

// One node of a tree. A leaf has left == right == kNoChild and `value` is its weight; an inner
// node sends a row to `left` when row[feature] < value (float compare) and to `default_left ?
// left : right` when row[feature] is NaN.
struct Node {
  uint32_t left = kNoChild;
  uint32_t right = kNoChild;
  uint32_t feature = 0;
  float value = 0.0f;
  bool default_left = false;

  bool is_leaf() const { return left == kNoChild; }
  bool operator==(const Node&) const = default;
};

// A tree's nodes in breadth-first order from the root (index 0): every child has a larger index
// than its parent and every node but the root is the child of exactly one node.
struct Tree {
  std::vector<Node> nodes;
  bool operator==(const Tree&) const = default;
};

inline constexpr uint32_t kTreeDepthMax = 64;
inline constexpr uint32_t kTreeCountMax = 1u << 20;
inline constexpr uint32_t kTreeNodesMax = 1u << 24;
inline constexpr uint32_t kColumnsMax = 1u << 24;

struct Model {
  uint32_t columns = 0;
  std::string objective;
  Transform transform = Transform::kIdentity;
  float base_margin = 0.0f;  // added before the trees' leaves, in margin space
  std::vector<Tree> trees;
  // XGBoost's own model (UBJSON) of the same trees; empty when not known.
  std::string xgboost_model;
};

// The transform XGBoost applies for an objective; false if the objective is not supported.
bool TransformForObjective(std::string_view objective, Transform* transform);

// Checks every invariant stated above (shape of each tree, children, features < columns, finite
// leaves, non-NaN thresholds, depth <= kTreeDepthMax). The message names the tree and node.
Status ValidateModel(const Model& model);

// Depth of a valid tree: the number of inner nodes on its longest root-to-leaf path.
uint32_t TreeDepth(const Tree& tree);

// The on-disk format (see model.cc). DecodeModel checks everything, ValidateModel included; it
// does not look inside xgboost_model.
std::string EncodeModel(const Model& model);
Result<Model> DecodeModel(std::string_view bytes);

// Converts XGBoost's JSON model (XGBoosterSaveModelToBuffer with {"format":"json"}) into the
// canonical form; xgboost_model is left empty.
Result<Model> ModelFromXgboostJson(std::string_view json);

}  // namespace surge::trees::internal
