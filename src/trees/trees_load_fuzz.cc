// Fuzzes the model loader. Two kinds of input, chosen by the first byte:
//   - raw bytes handed to the decoder as they are (the checksum stops nearly all of them);
//   - edits to a valid model's bytes (offset, xor value pairs) after which the checksum is
//     recomputed, so that the structural checks behind it are what gets exercised.
// Whatever the decoder accepts must satisfy ValidateModel, re-encode to a model equal to it,
// load through Forest::Load and evaluate without going out of bounds. XGBoost's own model
// parser is not fuzzed here: a model whose XGBoost section is not empty is only decoded.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "trees/evaluator.h"
#include "trees/model.h"
#include "trees/trees.h"
#include "trees/trees_testing.h"

namespace {

using surge::trees::internal::DecodeModel;
using surge::trees::internal::EncodeModel;
using surge::trees::internal::Model;

std::string EditedSeed(const uint8_t* data, size_t size) {
  static const std::string seed = EncodeModel(surge::trees::internal::HandModel());
  std::string bytes = seed;
  for (size_t i = 0; i + 3 <= size; i += 3) {
    const size_t offset = (static_cast<size_t>(data[i]) << 8 | data[i + 1]) % bytes.size();
    bytes[offset] = static_cast<char>(bytes[offset] ^ data[i + 2]);
  }
  // An edit count with the low bit set also cuts the tail, to reach the truncation checks.
  if (size % 2 == 1 && size > 0) bytes.resize(bytes.size() - data[0] % bytes.size());
  return surge::trees::internal::Reseal(std::move(bytes));
}

void Exercise(const std::string& bytes) {
  auto decoded = DecodeModel(bytes);
  if (!decoded.ok()) {
    if (decoded.status().message().empty()) __builtin_trap();
    return;
  }
  const Model& model = *decoded;
  if (!surge::trees::internal::ValidateModel(model).ok()) __builtin_trap();
  auto again = DecodeModel(EncodeModel(model));
  if (!again.ok() || again->trees != model.trees || again->columns != model.columns) {
    __builtin_trap();
  }
  if (!model.xgboost_model.empty()) return;
  auto forest = surge::trees::Forest::Load(bytes);
  if (!forest.ok()) __builtin_trap();
  // A row of each kind: all missing, all zero, all huge.
  const size_t columns = forest->columns();
  if (columns > (1u << 16)) return;  // valid, but too slow to allocate rows for on every input
  for (float value : {NAN, 0.0f, 1e30f}) {
    std::vector<float> row(columns, value);
    float score = 0;
    forest->Predict(row, columns, std::span(&score, 1), 1);
    if (std::isnan(score)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1) {
    Exercise(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  } else {
    Exercise(EditedSeed(data + 1, size - 1));
  }
  return 0;
}
