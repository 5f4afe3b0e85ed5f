// Private to src/brain: an approximate nearest-neighbour index over item vectors (hnswlib's
// HNSW graph, inner-product space). Built once, then immutable: Search may be called from any
// number of threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace surge::brain::internal {

class AnnIndex {
 public:
  // Indexes the rows of `vectors` (items x dim, row-major) that are not all zero. `ef` is the
  // search breadth (at least the k asked for is used).
  // `skip`, if given, leaves out the rows it returns true for.
  static std::unique_ptr<AnnIndex> Build(std::span<const float> vectors, int dim, uint64_t seed,
                                         size_t ef = 128,
                                         const std::function<bool(size_t)>& skip = nullptr);
  ~AnnIndex();

  // The `k` indexed items of largest inner product with `query` (dim values), best first, as
  // (item, inner product).
  void Search(std::span<const float> query, size_t k,
              std::vector<std::pair<uint32_t, float>>* out) const;

  size_t size() const;

 private:
  struct Impl;
  explicit AnnIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace surge::brain::internal
