#include "trees/booster.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>

namespace surge::trees::internal {
void QuietXgboost() { (void)XGBSetGlobalConfig(R"({"verbosity": 0})"); }

Status XgboostError(std::string_view doing) {
  std::string message = "XGBoost failed ";
  message += doing;
  message += ": ";
  const char* last = XGBGetLastError();
  message += last != nullptr ? last : "(no message)";
  return Status(Code::kInternal, std::move(message));
}

Booster::~Booster() { (void)XGBoosterFree(handle_); }

Result<std::unique_ptr<Booster>> Booster::FromBuffer(std::string_view bytes) {
  QuietXgboost();
  BoosterHandle handle = nullptr;
  if (XGBoosterCreate(nullptr, 0, &handle) != 0) return XgboostError("creating a booster");
  // nthread 0 is XGBoost's default: all cores.
  auto booster = std::make_unique<Booster>(handle, 0);
  if (XGBoosterLoadModelFromBuffer(handle, bytes.data(), bytes.size()) != 0) {
    return XgboostError("loading its model");
  }
  return booster;
}

Status Booster::SetThreads(int threads) const {
  if (threads == threads_) return Status::Ok();
  const std::string thread_count = std::to_string(threads);
  if (XGBoosterSetParam(handle_, "nthread", thread_count.c_str()) != 0) {
    return XgboostError("setting nthread");
  }
  threads_ = threads;
  return Status::Ok();
}

Result<std::vector<float>> Booster::PredictDense(const float* rows, size_t count, size_t columns,
                                                 int threads) const {
  if (count == 0) return std::vector<float>();
  // __array_interface__ of a C-contiguous float32 matrix (version 3).
  char array[256];
  std::snprintf(array, sizeof(array),
                R"({"data": [%zu, true], "shape": [%zu, %zu], "typestr": "<f4", "version": 3})",
                reinterpret_cast<size_t>(rows), count, columns);
  const char* config =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
      R"("strict_shape": false, "cache_id": 0, "missing": NaN})";
  const bst_ulong* shape = nullptr;
  bst_ulong dimensions = 0;
  const float* result = nullptr;
  std::lock_guard lock(mutex_);
  QuietXgboost();
  SURGE_RETURN_IF_ERROR(SetThreads(threads == 0 ? default_threads_ : threads));
  if (XGBoosterPredictFromDense(handle_, array, config, nullptr, &shape, &dimensions, &result) !=
      0) {
    return XgboostError("predicting");
  }
  size_t produced = 1;
  for (bst_ulong d = 0; d < dimensions; ++d) produced *= shape[d];
  if (produced != count) {
    return Status(Code::kInternal, "XGBoost returned " + std::to_string(produced) +
                                       " predictions for " + std::to_string(count) + " rows");
  }
  return std::vector<float>(result, result + count);
}

Result<std::string> Booster::Serialise(std::string_view format) const {
  const std::string config = R"({"format": ")" + std::string(format) + R"("})";
  bst_ulong length = 0;
  const char* bytes = nullptr;
  std::lock_guard lock(mutex_);
  if (XGBoosterSaveModelToBuffer(handle_, config.c_str(), &length, &bytes) != 0) {
    return XgboostError("saving its model");
  }
  return std::string(bytes, length);
}

Result<size_t> Booster::FeatureCount() const {
  bst_ulong features = 0;
  std::lock_guard lock(mutex_);
  if (XGBoosterGetNumFeature(handle_, &features) != 0) return XgboostError("counting features");
  return static_cast<size_t>(features);
}

}  // namespace surge::trees::internal
