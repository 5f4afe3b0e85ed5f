// Private to src/trees: an owned XGBoost booster behind XGBoost's C API, and training.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "trees/model.h"
#include "trees/trees.h"

namespace surge::trees::internal {

class Booster {
 public:
  // Loads XGBoost's own serialised model (UBJSON or JSON); it predicts on all cores by default.
  static Result<std::unique_ptr<Booster>> FromBuffer(std::string_view bytes);
  // Takes ownership of a handle from XGBoosterCreate whose nthread is `threads` (0: XGBoost's
  // default, all cores); predictions asking for 0 threads get that setting back.
  Booster(void* handle, int threads)
      : handle_(handle), threads_(threads), default_threads_(threads) {}
  ~Booster();
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;

  // XGBoost's transformed predictions for `count` dense rows (NaN = missing), on `threads`
  // threads (0: the booster's own setting). Serialised: the C API hands back a buffer owned by
  // the booster.
  Result<std::vector<float>> PredictDense(const float* rows, size_t count, size_t columns,
                                          int threads) const;
  // XGBoosterSaveModelToBuffer with format "json" or "ubj".
  Result<std::string> Serialise(std::string_view format) const;
  Result<size_t> FeatureCount() const;

 private:
  Status SetThreads(int threads) const;  // with mutex_ held

  void* handle_;
  mutable std::mutex mutex_;
  mutable int threads_;  // XGBoost's nthread as last set
  const int default_threads_;
};

// Checks `data` and `options` (invalid_argument), trains with XGBoost and converts the result.
// On success *model holds the trees and XGBoost's UBJSON model, *booster the trained booster.
Status TrainWithXgboost(const Dataset& data, const TrainOptions& options, Model* model,
                        std::unique_ptr<Booster>* booster);

// XGBoost logs warnings to stderr; a library should stay quiet. Its global configuration is
// per thread, so every entry point that may log calls this first.
void QuietXgboost();

// XGBoost's last error on this thread, prefixed by what we were doing, as an internal Status.
Status XgboostError(std::string_view doing);

}  // namespace surge::trees::internal
