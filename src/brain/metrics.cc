#include <cmath>

#include "brain/brain.h"

namespace surge::brain {

double HitAtK(size_t rank, size_t k) { return rank < k ? 1.0 : 0.0; }

double NdcgAtK(size_t rank, size_t k) {
  return rank < k ? 1.0 / std::log2(static_cast<double>(rank) + 2.0) : 0.0;
}

Result<double> Wape(std::span<const double> actual, std::span<const double> forecast) {
  if (actual.size() != forecast.size()) {
    return Status(Code::kInvalidArgument, "WAPE of " + std::to_string(actual.size()) +
                                              " actuals against " +
                                              std::to_string(forecast.size()) + " forecasts");
  }
  double error = 0, total = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!std::isfinite(actual[i]) || !std::isfinite(forecast[i])) {
      return Status(Code::kInvalidArgument,
                    "WAPE: value " + std::to_string(i) + " is not a finite number");
    }
    error += std::fabs(actual[i] - forecast[i]);
    total += std::fabs(actual[i]);
  }
  if (total == 0) return Status(Code::kInvalidArgument, "WAPE: the actuals sum to zero");
  return error / total;
}

}  // namespace surge::brain
