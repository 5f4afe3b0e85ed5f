// Training: the checks on what the caller hands us, then XGBoost's C API, then conversion of the
// trained booster (through its JSON model) into the canonical Model.
#include <xgboost/c_api.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <string>

#include "trees/booster.h"

namespace surge::trees::internal {
namespace {

Status Invalid(std::string message) {
  return Status(Code::kInvalidArgument, "training: " + std::move(message));
}

bool IsRanking(std::string_view objective) { return objective.starts_with("rank:"); }

Status CheckOptions(const TrainOptions& options) {
  Transform transform = Transform::kIdentity;
  if (!TransformForObjective(options.objective, &transform)) {
    return Invalid("unsupported objective '" + options.objective + "'");
  }
  if (options.rounds < 1 || options.rounds > 100000) return Invalid("rounds outside [1, 100000]");
  if (options.max_depth < 1 || options.max_depth > 16) return Invalid("max_depth outside [1, 16]");
  if (!(options.learning_rate > 0 && options.learning_rate <= 1)) {
    return Invalid("learning_rate outside (0, 1]");
  }
  if (!(options.subsample > 0 && options.subsample <= 1) ||
      !(options.colsample_bytree > 0 && options.colsample_bytree <= 1)) {
    return Invalid("subsample and colsample_bytree must be in (0, 1]");
  }
  if (!(options.min_child_weight >= 0) || !(options.lambda >= 0) || !(options.gamma >= 0) ||
      !std::isfinite(options.min_child_weight + options.lambda + options.gamma)) {
    return Invalid("min_child_weight, lambda and gamma must be finite and >= 0");
  }
  if (options.threads < 1 || options.threads > 256) return Invalid("threads outside [1, 256]");
  if (options.tree_method != "hist" && options.tree_method != "approx" &&
      options.tree_method != "exact") {
    return Invalid("tree_method must be hist, approx or exact");
  }
  return Status::Ok();
}

Status CheckShape(const Dataset& data) {
  if (data.rows == 0 || data.columns == 0) return Invalid("no rows or no columns");
  if (data.columns > kColumnsMax) return Invalid("too many columns");
  if (data.rows > SIZE_MAX / data.columns || data.features.size() != data.rows * data.columns) {
    return Invalid("features hold " + std::to_string(data.features.size()) + " values, not rows " +
                   std::to_string(data.rows) + " * columns " + std::to_string(data.columns));
  }
  if (data.labels.size() != data.rows) {
    return Invalid("labels hold " + std::to_string(data.labels.size()) + " values for " +
                   std::to_string(data.rows) + " rows");
  }
  for (size_t i = 0; i < data.features.size(); ++i) {
    if (std::isinf(data.features[i])) {
      return Invalid("feature of row " + std::to_string(i / data.columns) + " column " +
                     std::to_string(i % data.columns) + " is infinite");
    }
  }
  return Status::Ok();
}

Status CheckGroupsAndWeights(const Dataset& data, const TrainOptions& options) {
  const bool ranking = IsRanking(options.objective);
  if (ranking && data.group_sizes.empty()) return Invalid("ranking objectives need group_sizes");
  if (!ranking && !data.group_sizes.empty()) {
    return Invalid("group_sizes given for the non-ranking objective " + options.objective);
  }
  uint64_t sum = 0;
  for (uint32_t size : data.group_sizes) {
    if (size == 0) return Invalid("a group of size 0");
    sum += size;
  }
  if (ranking && sum != data.rows) {
    return Invalid("group sizes sum to " + std::to_string(sum) + ", not to rows " +
                   std::to_string(data.rows));
  }
  const size_t weights_expected = ranking ? data.group_sizes.size() : data.rows;
  if (!data.weights.empty() && data.weights.size() != weights_expected) {
    return Invalid("weights hold " + std::to_string(data.weights.size()) + " values, expected " +
                   std::to_string(weights_expected) + (ranking ? " (one per group)" : ""));
  }
  for (float weight : data.weights) {
    if (!(weight >= 0) || !std::isfinite(weight)) return Invalid("weights must be finite, >= 0");
  }
  return Status::Ok();
}

Status CheckLabels(const Dataset& data, const TrainOptions& options) {
  for (float label : data.labels) {
    if (!std::isfinite(label)) return Invalid("labels must be finite");
    if (options.objective == "binary:logistic" && (label < 0 || label > 1)) {
      return Invalid("binary:logistic labels must be in [0, 1]");
    }
    if (IsRanking(options.objective) && label < 0) return Invalid("relevance labels must be >= 0");
  }
  return Status::Ok();
}

// Owns a DMatrix for the duration of training.
struct Matrix {
  DMatrixHandle handle = nullptr;
  ~Matrix() {
    if (handle != nullptr) (void)XGDMatrixFree(handle);
  }
};

Status FillMatrix(const Dataset& data, const TrainOptions& options, Matrix* matrix) {
  if (XGDMatrixCreateFromMat_omp(data.features.data(), data.rows, data.columns, NAN,
                                 &matrix->handle, options.threads) != 0) {
    return XgboostError("building the training matrix");
  }
  if (XGDMatrixSetFloatInfo(matrix->handle, "label", data.labels.data(), data.rows) != 0) {
    return XgboostError("setting labels");
  }
  if (!data.weights.empty() &&
      XGDMatrixSetFloatInfo(matrix->handle, "weight", data.weights.data(), data.weights.size())) {
    return XgboostError("setting weights");
  }
  if (!data.group_sizes.empty() &&
      XGDMatrixSetUIntInfo(matrix->handle, "group", data.group_sizes.data(),
                           data.group_sizes.size()) != 0) {
    return XgboostError("setting groups");
  }
  return Status::Ok();
}

Status Configure(BoosterHandle handle, const TrainOptions& options) {
  const std::pair<const char*, std::string> parameters[] = {
      {"objective", options.objective},
      {"max_depth", std::to_string(options.max_depth)},
      {"eta", std::to_string(options.learning_rate)},
      {"min_child_weight", std::to_string(options.min_child_weight)},
      {"subsample", std::to_string(options.subsample)},
      {"colsample_bytree", std::to_string(options.colsample_bytree)},
      {"lambda", std::to_string(options.lambda)},
      {"gamma", std::to_string(options.gamma)},
      {"nthread", std::to_string(options.threads)},
      {"seed", std::to_string(options.seed)},
      {"tree_method", options.tree_method},
      {"verbosity", "0"},
  };
  for (const auto& [name, value] : parameters) {
    if (XGBoosterSetParam(handle, name, value.c_str()) != 0) {
      return XgboostError(std::string("setting ") + name);
    }
  }
  return Status::Ok();
}

}  // namespace

Status TrainWithXgboost(const Dataset& data, const TrainOptions& options, Model* model,
                        std::unique_ptr<Booster>* booster) {
  SURGE_RETURN_IF_ERROR(CheckOptions(options));
  SURGE_RETURN_IF_ERROR(CheckShape(data));
  SURGE_RETURN_IF_ERROR(CheckGroupsAndWeights(data, options));
  SURGE_RETURN_IF_ERROR(CheckLabels(data, options));
  QuietXgboost();
  Matrix matrix;
  SURGE_RETURN_IF_ERROR(FillMatrix(data, options, &matrix));
  BoosterHandle handle = nullptr;
  if (XGBoosterCreate(&matrix.handle, 1, &handle) != 0) return XgboostError("creating a booster");
  auto trained = std::make_unique<Booster>(handle, options.threads);
  SURGE_RETURN_IF_ERROR(Configure(handle, options));
  for (int round = 0; round < options.rounds; ++round) {
    if (XGBoosterUpdateOneIter(handle, round, matrix.handle) != 0) {
      return XgboostError("in round " + std::to_string(round));
    }
  }
  SURGE_ASSIGN_OR_RETURN(const std::string json, trained->Serialise("json"));
  SURGE_ASSIGN_OR_RETURN(*model, ModelFromXgboostJson(json));
  if (model->columns != data.columns) {
    return Status(Code::kInternal, "XGBoost's model has " + std::to_string(model->columns) +
                                       " features, trained on " + std::to_string(data.columns));
  }
  SURGE_ASSIGN_OR_RETURN(model->xgboost_model, trained->Serialise("ubj"));
  *booster = std::move(trained);
  return Status::Ok();
}

}  // namespace surge::trees::internal
