// Reads XGBoost's JSON model (schema of XGBoost 1.7: learner.gradient_booster.model.trees[], each
// tree as parallel arrays indexed by node id) into the canonical Model. Node ids are renumbered
// breadth-first from the root, which drops nodes XGBoost marked deleted and gives the canonical
// order (children after parents).
#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

#include "trees/model.h"

namespace surge::trees::internal {
namespace {

using simdjson::dom::element;

Status Bad(std::string message) {
  return Status(Code::kInternal, "XGBoost JSON model: " + std::move(message));
}

Status Path(element root, std::initializer_list<const char*> keys, element* out) {
  element current = root;
  for (const char* key : keys) {
    if (current[key].get(current) != simdjson::SUCCESS) {
      return Bad(std::string("missing field '") + key + "'");
    }
  }
  *out = current;
  return Status::Ok();
}

// XGBoost writes its scalar parameters as strings ("5E-1").
Status StringNumber(element root, std::initializer_list<const char*> keys, double* out) {
  element field;
  SURGE_RETURN_IF_ERROR(Path(root, keys, &field));
  std::string_view text;
  if (field.get_string().get(text) != simdjson::SUCCESS) return Bad("parameter not a string");
  const std::string copy(text);
  char* end = nullptr;
  *out = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) {
    return Bad("parameter '" + copy + "' is not a number");
  }
  return Status::Ok();
}

Status Numbers(element tree, const char* key, std::vector<double>* out) {
  simdjson::dom::array array;
  if (tree[key].get_array().get(array) != simdjson::SUCCESS) {
    return Bad(std::string("tree field '") + key + "' missing or not an array");
  }
  out->clear();
  for (element item : array) {
    double value = 0;
    bool flag = false;
    if (item.get_double().get(value) == simdjson::SUCCESS) {
      out->push_back(value);
    } else if (item.get_bool().get(flag) == simdjson::SUCCESS) {
      out->push_back(flag ? 1.0 : 0.0);
    } else {
      return Bad(std::string("tree field '") + key + "' holds a non-number");
    }
  }
  return Status::Ok();
}

struct TreeArrays {
  std::vector<double> left, right, feature, condition, default_left, split_type;
};

Status ReadTreeArrays(element tree, TreeArrays* arrays) {
  SURGE_RETURN_IF_ERROR(Numbers(tree, "left_children", &arrays->left));
  SURGE_RETURN_IF_ERROR(Numbers(tree, "right_children", &arrays->right));
  SURGE_RETURN_IF_ERROR(Numbers(tree, "split_indices", &arrays->feature));
  SURGE_RETURN_IF_ERROR(Numbers(tree, "split_conditions", &arrays->condition));
  SURGE_RETURN_IF_ERROR(Numbers(tree, "default_left", &arrays->default_left));
  arrays->split_type.clear();
  if (tree["split_type"].error() == simdjson::SUCCESS) {
    SURGE_RETURN_IF_ERROR(Numbers(tree, "split_type", &arrays->split_type));
  }
  const size_t count = arrays->left.size();
  if (count == 0 || arrays->right.size() != count || arrays->feature.size() != count ||
      arrays->condition.size() != count || arrays->default_left.size() != count ||
      (!arrays->split_type.empty() && arrays->split_type.size() != count)) {
    return Bad("tree arrays of different lengths");
  }
  return Status::Ok();
}

// Breadth-first from node 0; `order` maps new index -> XGBoost's id.
Status ConvertTree(const TreeArrays& arrays, Tree* tree) {
  const size_t count = arrays.left.size();
  std::vector<bool> seen(count, false);
  std::deque<size_t> queue{0};
  seen[0] = true;
  while (!queue.empty()) {
    const size_t id = queue.front();
    queue.pop_front();
    Node node;
    const double left = arrays.left[id];
    const double right = arrays.right[id];
    node.value = static_cast<float>(arrays.condition[id]);
    if (left == -1 && right == -1) {
      tree->nodes.push_back(node);
      continue;
    }
    if (!arrays.split_type.empty() && arrays.split_type[id] != 0) {
      return Bad("categorical splits are not supported");
    }
    for (double child : {left, right}) {
      if (child < 0 || child >= static_cast<double>(count) || seen[static_cast<size_t>(child)]) {
        return Bad("child id out of range or reached twice");
      }
      seen[static_cast<size_t>(child)] = true;
    }
    const size_t next = tree->nodes.size() + queue.size() + 1;
    node.left = static_cast<uint32_t>(next);
    node.right = static_cast<uint32_t>(next + 1);
    node.feature = static_cast<uint32_t>(arrays.feature[id]);
    node.default_left = arrays.default_left[id] != 0;
    queue.push_back(static_cast<size_t>(left));
    queue.push_back(static_cast<size_t>(right));
    tree->nodes.push_back(node);
  }
  return Status::Ok();
}

Status ReadHeader(element learner, Model* model) {
  element objective;
  std::string_view name;
  SURGE_RETURN_IF_ERROR(Path(learner, {"objective", "name"}, &objective));
  if (objective.get_string().get(name) != simdjson::SUCCESS) return Bad("objective not a string");
  model->objective = std::string(name);
  if (!TransformForObjective(model->objective, &model->transform)) {
    return Bad("unsupported objective '" + model->objective + "'");
  }
  double base_score = 0;
  double columns = 0;
  double classes = 0;
  SURGE_RETURN_IF_ERROR(StringNumber(learner, {"learner_model_param", "base_score"}, &base_score));
  SURGE_RETURN_IF_ERROR(StringNumber(learner, {"learner_model_param", "num_feature"}, &columns));
  SURGE_RETURN_IF_ERROR(StringNumber(learner, {"learner_model_param", "num_class"}, &classes));
  if (classes > 1) return Bad("multi-class models are not supported");
  if (columns < 1 || columns > kColumnsMax) return Bad("num_feature out of range");
  model->columns = static_cast<uint32_t>(columns);
  // XGBoost keeps base_score in output space and converts it with the objective's ProbToMargin,
  // in float: -log(1/p - 1) for the logistic objective, the identity otherwise.
  const auto score = static_cast<float>(base_score);
  if (model->transform == Transform::kSigmoid) {
    if (!(score > 0.0f && score < 1.0f)) return Bad("base_score outside (0, 1)");
    model->base_margin = -std::log(1.0f / score - 1.0f);
  } else {
    model->base_margin = score;
  }
  return Status::Ok();
}

Status ReadTrees(element learner, Model* model) {
  element booster;
  std::string_view name;
  SURGE_RETURN_IF_ERROR(Path(learner, {"gradient_booster"}, &booster));
  if (booster["name"].get_string().get(name) != simdjson::SUCCESS || name != "gbtree") {
    return Bad("only the gbtree booster is supported");
  }
  double parallel = 0;
  SURGE_RETURN_IF_ERROR(
      StringNumber(booster, {"model", "gbtree_model_param", "num_parallel_tree"}, &parallel));
  if (parallel != 1) return Bad("num_parallel_tree other than 1 is not supported");
  simdjson::dom::array trees;
  if (booster["model"]["trees"].get_array().get(trees) != simdjson::SUCCESS) {
    return Bad("missing trees");
  }
  TreeArrays arrays;
  for (element tree_json : trees) {
    SURGE_RETURN_IF_ERROR(ReadTreeArrays(tree_json, &arrays));
    Tree tree;
    SURGE_RETURN_IF_ERROR(ConvertTree(arrays, &tree));
    model->trees.push_back(std::move(tree));
  }
  return Status::Ok();
}

}  // namespace

Result<Model> ModelFromXgboostJson(std::string_view json) {
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return Bad("not valid JSON");
  }
  element learner;
  SURGE_RETURN_IF_ERROR(Path(root, {"learner"}, &learner));
  Model model;
  SURGE_RETURN_IF_ERROR(ReadHeader(learner, &model));
  SURGE_RETURN_IF_ERROR(ReadTrees(learner, &model));
  Status valid = ValidateModel(model);
  if (!valid.ok()) return Bad(valid.message());
  return model;
}

}  // namespace surge::trees::internal
