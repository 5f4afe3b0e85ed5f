#include "brain/ann.h"

// hnswlib's hand-vectorised paths prefetch one entry past the end of a node's link list
// (hnswalg.h, searchBaseLayer), a read beyond a malloc'd block that AddressSanitizer reports;
// the plain loops it falls back to are auto-vectorised by the compiler anyway.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <exception>

#include "common/assert.h"

namespace surge::brain::internal {

struct AnnIndex::Impl {
  Impl(int dimensions, size_t capacity, uint64_t seed)
      : space(static_cast<size_t>(dimensions)),
        graph(&space, std::max<size_t>(capacity, 1), /*M=*/16, /*ef_construction=*/100,
              static_cast<size_t>(seed)) {}
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> graph;
  int dim = 0;
  size_t count = 0;
};

AnnIndex::AnnIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AnnIndex::~AnnIndex() = default;

std::unique_ptr<AnnIndex> AnnIndex::Build(std::span<const float> vectors, int dim, uint64_t seed,
                                          size_t ef) {
  SURGE_ASSERT(dim > 0 && vectors.size() % static_cast<size_t>(dim) == 0);
  const size_t rows = vectors.size() / static_cast<size_t>(dim);
  auto impl = std::make_unique<Impl>(dim, rows, seed);
  impl->dim = dim;
  // hnswlib reports misuse (too many elements, ...) by exceptions: a bug of ours here, since
  // the capacity is the number of rows.
  try {
    for (size_t row = 0; row < rows; ++row) {
      const float* vector = vectors.data() + row * static_cast<size_t>(dim);
      if (std::all_of(vector, vector + dim, [](float x) { return x == 0.0f; })) continue;
      impl->graph.addPoint(vector, static_cast<hnswlib::labeltype>(row));
      ++impl->count;
    }
    impl->graph.setEf(ef);
  } catch (const std::exception& error) {
    SURGE_ASSERT_MSG(false, error.what());
  }
  return std::unique_ptr<AnnIndex>(new AnnIndex(std::move(impl)));
}

void AnnIndex::Search(std::span<const float> query, size_t k,
                      std::vector<std::pair<uint32_t, float>>* out) const {
  SURGE_ASSERT(query.size() == static_cast<size_t>(impl_->dim));
  out->clear();
  if (impl_->count == 0 || k == 0) return;
  try {
    auto found = impl_->graph.searchKnn(query.data(), std::min(k, impl_->count));
    out->resize(found.size());
    // The queue pops the farthest first; the distance is 1 - inner product.
    for (size_t i = found.size(); i-- > 0;) {
      (*out)[i] = {static_cast<uint32_t>(found.top().second), 1.0f - found.top().first};
      found.pop();
    }
  } catch (const std::exception& error) {
    SURGE_ASSERT_MSG(false, error.what());
  }
}

size_t AnnIndex::size() const { return impl_->count; }

}  // namespace surge::brain::internal
