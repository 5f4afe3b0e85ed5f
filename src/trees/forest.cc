
#include "trees/booster.h"
#include "trees/evaluator.h"
#include "trees/model.h"
#include "trees/trees.h"

namespace surge::trees {

struct Forest::Impl {
  explicit Impl(internal::Model trained) : model(std::move(trained)), evaluator(model) {}

  internal::Model model;
  internal::Evaluator evaluator;
  std::unique_ptr<internal::Booster> booster;  // null when the model bytes carried none
};

Forest::Forest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Forest::Forest(Forest&&) noexcept = default;
Forest& Forest::operator=(Forest&&) noexcept = default;
Forest::~Forest() = default;

Result<Forest> Forest::Train(const Dataset& data, const TrainOptions& options) {
  internal::Model model;
  std::unique_ptr<internal::Booster> booster;
  SURGE_RETURN_IF_ERROR(internal::TrainWithXgboost(data, options, &model, &booster));
  auto impl = std::make_unique<Impl>(std::move(model));
  impl->booster = std::move(booster);
  return Forest(std::move(impl));
}

Result<Forest> Forest::Load(std::string_view bytes) {
  SURGE_ASSIGN_OR_RETURN(internal::Model model, internal::DecodeModel(bytes));
  auto impl = std::make_unique<Impl>(std::move(model));
  if (!impl->model.xgboost_model.empty()) {
    auto booster = internal::Booster::FromBuffer(impl->model.xgboost_model);
    if (!booster.ok()) {
      return Status(Code::kCorruption, booster.status().message()).Annotate("model bytes");
    }
    auto features = (*booster)->FeatureCount();
    if (!features.ok() || *features != impl->model.columns) {
      return Status(Code::kCorruption,
                    "model bytes: XGBoost's model disagrees on the number of features");
    }
    impl->booster = std::move(booster).value();
  }
  return Forest(std::move(impl));
}

std::string Forest::Save() const { return internal::EncodeModel(impl_->model); }

void Forest::Predict(std::span<const float> rows, size_t columns, std::span<float> scores,
                     int threads) const {
  SURGE_ASSERT_MSG(columns == impl_->model.columns, "rows have a different number of columns");
  SURGE_ASSERT(rows.size() == scores.size() * columns);
  SURGE_ASSERT(threads >= 0);
  if (scores.empty()) return;
  impl_->evaluator.Predict(rows.data(), scores.size(), scores.data(), threads);
}

Result<std::vector<float>> Forest::PredictWithXgboost(std::span<const float> rows, size_t columns,
                                                      int threads) const {
  if (threads < 0) return Status(Code::kInvalidArgument, "threads < 0");
  if (columns != impl_->model.columns || rows.size() % columns != 0) {
    return Status(Code::kInvalidArgument, "rows of " + std::to_string(columns) + " columns (" +
                                              std::to_string(rows.size()) +
                                              " values) for a model of " +
                                              std::to_string(impl_->model.columns) + " columns");
  }
  if (impl_->booster == nullptr) {
    return Status(Code::kUnavailable, "this forest carries no XGBoost model");
  }
  return impl_->booster->PredictDense(rows.data(), rows.size() / columns, columns, threads);
}

size_t Forest::columns() const { return impl_->model.columns; }
size_t Forest::tree_count() const { return impl_->model.trees.size(); }
const std::string& Forest::objective() const { return impl_->model.objective; }

}  // namespace surge::trees
