// The canonical model's checks and its on-disk format:
//
//   magic "surgetre" (8 bytes), version (fixed32, 1)
//   columns (fixed32), transform (u8), objective (string), base_margin (fixed32, float bits)
//   tree count (fixed32), then per tree: node count (fixed32) and per node
//     left, right, feature, value (fixed32 each; value as float bits), default_left (u8)
//   xgboost_model (string: varint length + bytes)
//   crc32c of everything above (fixed32)
//
// Integers are little-endian (common/coding.h). A node takes kNodeBytes, which bounds the node
// counts a decoder accepts by the bytes actually present, so a corrupt count cannot make it
// allocate more than the input's size.
#include "trees/model.h"

#include <bit>
#include <cmath>
#include <string>

#include "common/coding.h"

namespace surge::trees::internal {
namespace {

constexpr std::string_view kMagic = "surgetre";
constexpr uint32_t kVersion = 1;
constexpr size_t kNodeBytes = 4 * 4 + 1;

Status Corrupt(std::string message) { return Status(Code::kCorruption, std::move(message)); }

std::string Where(size_t tree, size_t node) {
  return "tree " + std::to_string(tree) + " node " + std::to_string(node) + ": ";
}

Status ValidateNode(const Tree& tree, size_t tree_index, size_t index, uint32_t columns,
                    std::vector<uint8_t>* parents) {
  const Node& node = tree.nodes[index];
  const size_t count = tree.nodes.size();
  if (node.left == kNoChild || node.right == kNoChild) {
    if (node.left != node.right) return Corrupt(Where(tree_index, index) + "has one child only");
    if (!std::isfinite(node.value)) return Corrupt(Where(tree_index, index) + "leaf not finite");
    return Status::Ok();
  }
  if (node.left <= index || node.right <= index || node.left >= count || node.right >= count ||
      node.left == node.right) {
    return Corrupt(Where(tree_index, index) + "children out of order or out of range");
  }
  if (node.feature >= columns) {
    return Corrupt(Where(tree_index, index) + "feature " + std::to_string(node.feature) +
                   " >= columns " + std::to_string(columns));
  }
  if (std::isnan(node.value)) return Corrupt(Where(tree_index, index) + "threshold is NaN");
  for (uint32_t child : {node.left, node.right}) {
    if ((*parents)[child]++ != 0) {
      return Corrupt(Where(tree_index, index) + "child " + std::to_string(child) +
                     " has two parents");
    }
  }
  return Status::Ok();
}

Status ValidateTree(const Tree& tree, size_t tree_index, uint32_t columns) {
  if (tree.nodes.empty() || tree.nodes.size() > kTreeNodesMax) {
    return Corrupt("tree " + std::to_string(tree_index) + ": node count " +
                   std::to_string(tree.nodes.size()) + " out of range");
  }
  std::vector<uint8_t> parents(tree.nodes.size(), 0);
  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    SURGE_RETURN_IF_ERROR(ValidateNode(tree, tree_index, i, columns, &parents));
  }
  for (size_t i = 1; i < tree.nodes.size(); ++i) {
    if (parents[i] != 1) return Corrupt(Where(tree_index, i) + "unreachable");
  }
  if (TreeDepth(tree) > kTreeDepthMax) {
    return Corrupt("tree " + std::to_string(tree_index) + ": deeper than " +
                   std::to_string(kTreeDepthMax));
  }
  return Status::Ok();
}

}  // namespace

bool TransformForObjective(std::string_view objective, Transform* transform) {
  if (objective == "binary:logistic") {
    *transform = Transform::kSigmoid;
    return true;
  }
  if (objective == "rank:pairwise" || objective == "rank:ndcg" || objective == "rank:map" ||
      objective == "reg:squarederror" || objective == "reg:absoluteerror") {
    *transform = Transform::kIdentity;
    return true;
  }
  return false;
}

uint32_t TreeDepth(const Tree& tree) {
  // Children come after their parent, so one forward pass sees every parent's depth first.
  std::vector<uint32_t> depth(tree.nodes.size(), 0);
  uint32_t deepest = 0;
  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const Node& node = tree.nodes[i];
    if (node.is_leaf()) {
      deepest = std::max(deepest, depth[i]);
      continue;
    }
    depth[node.left] = depth[i] + 1;
    depth[node.right] = depth[i] + 1;
  }
  return deepest;
}

Status ValidateModel(const Model& model) {
  if (model.columns == 0 || model.columns > kColumnsMax) {
    return Corrupt("columns " + std::to_string(model.columns) + " out of range");
  }
  Transform expected = Transform::kIdentity;
  if (!TransformForObjective(model.objective, &expected)) {
    return Corrupt("unsupported objective '" + model.objective + "'");
  }
  if (model.transform != expected) return Corrupt("transform does not match the objective");
  if (!std::isfinite(model.base_margin)) return Corrupt("base margin not finite");
  if (model.trees.size() > kTreeCountMax) return Corrupt("too many trees");
  for (size_t t = 0; t < model.trees.size(); ++t) {
    SURGE_RETURN_IF_ERROR(ValidateTree(model.trees[t], t, model.columns));
  }
  return Status::Ok();
}

std::string EncodeModel(const Model& model) {
  SURGE_ASSERT(ValidateModel(model).ok());
  std::string out(kMagic);
  Encoder encoder(&out);
  encoder.Fixed32(kVersion);
  encoder.Fixed32(model.columns);
  encoder.U8(static_cast<uint8_t>(model.transform));
  encoder.String(model.objective);
  encoder.Fixed32(std::bit_cast<uint32_t>(model.base_margin));
  encoder.Fixed32(static_cast<uint32_t>(model.trees.size()));
  for (const Tree& tree : model.trees) {
    encoder.Fixed32(static_cast<uint32_t>(tree.nodes.size()));
    for (const Node& node : tree.nodes) {
      encoder.Fixed32(node.left);
      encoder.Fixed32(node.right);
      encoder.Fixed32(node.feature);
      encoder.Fixed32(std::bit_cast<uint32_t>(node.value));
      encoder.U8(node.default_left ? 1 : 0);
    }
  }
  encoder.String(model.xgboost_model);
  encoder.Fixed32(Crc32c(out));
  return out;
}

namespace {

bool DecodeNode(Decoder* decoder, Node* node) {
  uint32_t value_bits = 0;
  uint8_t default_left = 0;
  if (!decoder->Fixed32(&node->left) || !decoder->Fixed32(&node->right) ||
      !decoder->Fixed32(&node->feature) || !decoder->Fixed32(&value_bits) ||
      !decoder->U8(&default_left) || default_left > 1) {
    return false;
  }
  node->value = std::bit_cast<float>(value_bits);
  node->default_left = default_left == 1;
  return true;
}

Status DecodeTrees(Decoder* decoder, Model* model) {
  uint32_t tree_count = 0;
  if (!decoder->Fixed32(&tree_count)) return Corrupt("truncated before the tree count");
  if (tree_count > kTreeCountMax || tree_count > decoder->remaining() / (4 + kNodeBytes)) {
    return Corrupt("tree count " + std::to_string(tree_count) + " exceeds the bytes present");
  }
  model->trees.resize(tree_count);
  for (uint32_t t = 0; t < tree_count; ++t) {
    uint32_t node_count = 0;
    if (!decoder->Fixed32(&node_count)) return Corrupt("truncated in tree " + std::to_string(t));
    if (node_count == 0 || node_count > decoder->remaining() / kNodeBytes) {
      return Corrupt("tree " + std::to_string(t) + ": node count " + std::to_string(node_count) +
                     " is zero or exceeds the bytes present");
    }
    std::vector<Node>& nodes = model->trees[t].nodes;
    nodes.resize(node_count);
    for (Node& node : nodes) {
      if (!DecodeNode(decoder, &node)) return Corrupt("bad node in tree " + std::to_string(t));
    }
  }
  return Status::Ok();
}

Status DecodeBody(std::string_view body, Model* model) {
  Decoder decoder(body);
  uint32_t version = 0;
  uint32_t margin_bits = 0;
  uint8_t transform = 0;
  if (!decoder.Fixed32(&version)) return Corrupt("truncated header");
  if (version != kVersion) return Corrupt("unknown version " + std::to_string(version));
  if (!decoder.Fixed32(&model->columns) || !decoder.U8(&transform) ||
      !decoder.String(&model->objective, 64) || !decoder.Fixed32(&margin_bits)) {
    return Corrupt("truncated or malformed header");
  }
  if (transform > static_cast<uint8_t>(Transform::kSigmoid)) return Corrupt("unknown transform");
  model->transform = static_cast<Transform>(transform);
  model->base_margin = std::bit_cast<float>(margin_bits);
  SURGE_RETURN_IF_ERROR(DecodeTrees(&decoder, model));
  if (!decoder.String(&model->xgboost_model)) return Corrupt("truncated XGBoost model section");
  if (!decoder.done()) return Corrupt("trailing bytes after the XGBoost model section");
  return ValidateModel(*model);
}

}  // namespace

Result<Model> DecodeModel(std::string_view bytes) {
  const size_t minimum = kMagic.size() + 4 + 4;
  if (bytes.size() < minimum) {
    return Corrupt("model bytes: " + std::to_string(bytes.size()) + " bytes, too short");
  }
  if (bytes.substr(0, kMagic.size()) != kMagic) return Corrupt("model bytes: bad magic");
  const std::string_view covered = bytes.substr(0, bytes.size() - 4);
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + covered.size(), 4);
  if (Crc32c(covered) != stored_crc) {
    return Corrupt("model bytes: checksum mismatch (truncated or damaged)");
  }
  Model model;
  Status status = DecodeBody(covered.substr(kMagic.size()), &model);
  if (!status.ok()) return status.Annotate("model bytes");
  return model;
}

}  // namespace surge::trees::internal
