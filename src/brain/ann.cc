#include "brain/ann.h"

// hnswlib's SSE paths prefetch the next neighbours' vectors while computing a distance, which
// matters at a million items (each visited vector is a cache miss otherwise: without them a
// search was 40% of a warm Recommend). Their prefetch reads one link id past the end of a
// node's list (hnswalg.h, searchBaseLayer), for the upper layers beyond a malloc'd block, which
// AddressSanitizer reports: sanitized builds turn those paths off. (The distance is ours,
// DotSpace below, either way.)
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <exception>

#include "brain/linalg.h"
#include "common/assert.h"

namespace surge::brain::internal {
namespace {

// hnswlib's inner-product space with our DotProduct: its own plain loop (the only one left with
// NO_MANUAL_VECTORIZATION) is one chain of dependent adds, and a search of a million items
// computes a few thousand distances.
class DotSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit DotSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &Distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  static float Distance(const void* a, const void* b, const void* dim) {
    return 1.0f - DotProduct(static_cast<const float*>(a), static_cast<const float*>(b),
                             *static_cast<const size_t*>(dim));
  }
  size_t dim_;
};

}  // namespace

struct AnnIndex::Impl {
  Impl(int dimensions, size_t capacity, uint64_t seed)
      : space(static_cast<size_t>(dimensions)),
        graph(&space, std::max<size_t>(capacity, 1), /*M=*/16, /*ef_construction=*/100,
              static_cast<size_t>(seed)) {}
  DotSpace space;
  hnswlib::HierarchicalNSW<float> graph;
  int dim = 0;
  size_t count = 0;
};

AnnIndex::AnnIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AnnIndex::~AnnIndex() = default;

std::unique_ptr<AnnIndex> AnnIndex::Build(std::span<const float> vectors, int dim, uint64_t seed,
                                          size_t ef, const std::function<bool(size_t)>& skip) {
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
      if (skip && skip(row)) continue;
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
