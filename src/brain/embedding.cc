// Item embeddings: the positive pointwise mutual information (PPMI) of co-occurrences within a
// few positions of each other, factorised by a randomised truncated eigen-decomposition
// (Halko, Martinsson & Tropp 2011: a random projection, power iterations, then the small
// projected problem solved exactly). Item i's vector is row i of U * sqrt(Lambda), scaled to unit
// length, so that the inner product of two vectors is a cosine.
#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "brain/linalg.h"
#include "brain/models.h"
#include "common/assert.h"

namespace surge::brain::internal {
namespace {

// Symmetric co-occurrence counts within `window` positions, weighted 1/distance.
SparseRows CoOccurrences(std::span<const std::vector<uint32_t>> sequences, uint32_t items,
                         int window) {
  // Pairs (i, j, weight) in both directions, then summed by a sort.
  std::vector<std::pair<uint64_t, float>> pairs;
  for (const auto& sequence : sequences) {
    for (size_t p = 0; p < sequence.size(); ++p) {
      for (size_t d = 1; d <= static_cast<size_t>(window) && p + d < sequence.size(); ++d) {
        const uint32_t a = sequence[p], b = sequence[p + d];
        if (a == b) continue;
        const float weight = 1.0f / static_cast<float>(d);
        pairs.emplace_back((static_cast<uint64_t>(a) << 32) | b, weight);
        pairs.emplace_back((static_cast<uint64_t>(b) << 32) | a, weight);
      }
    }
  }
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  SparseRows rows;
  rows.offsets.assign(static_cast<size_t>(items) + 1, 0);
  for (size_t k = 0; k < pairs.size();) {
    const uint64_t key = pairs[k].first;
    float sum = 0;
    for (; k < pairs.size() && pairs[k].first == key; ++k) sum += pairs[k].second;
    rows.columns.push_back(static_cast<uint32_t>(key));
    rows.values.push_back(sum);
    ++rows.offsets[(key >> 32) + 1];
  }
  for (size_t i = 1; i < rows.offsets.size(); ++i) rows.offsets[i] += rows.offsets[i - 1];
  return rows;
}

// PPMI in place: log(c_ij * total / (r_i r_j)) where positive, else dropped (set to 0).
void ToPpmi(SparseRows* rows) {
  std::vector<double> row_sum(rows->rows(), 0.0);
  double total = 0;
  for (size_t i = 0; i < rows->rows(); ++i) {
    for (const float value : rows->Values(static_cast<uint32_t>(i))) row_sum[i] += value;
    total += row_sum[i];
  }
  for (size_t i = 0; i < rows->rows(); ++i) {
    for (uint64_t k = rows->offsets[i]; k < rows->offsets[i + 1]; ++k) {
      const double pmi =
          std::log(rows->values[k] * total / (row_sum[i] * row_sum[rows->columns[k]]));
      rows->values[k] = pmi > 0 ? static_cast<float>(pmi) : 0.0f;
    }
  }
}

// out = a * in, column by column, the columns split over `threads`.
void Multiply(const SparseRows& a, const Columns& in, Columns* out, int threads) {
  out->rows = in.rows;
  out->cols = in.cols;
  out->values.assign(in.values.size(), 0.0);
  auto work = [&](size_t first, size_t last) {
    for (size_t c = first; c < last; ++c) {
      const double* x = in.column(c);
      double* y = out->column(c);
      for (size_t i = 0; i < a.rows(); ++i) {
        double sum = 0;
        for (uint64_t k = a.offsets[i]; k < a.offsets[i + 1]; ++k) {
          sum += a.values[k] * x[a.columns[k]];
        }
        y[i] = sum;
      }
    }
  };
  const size_t split = in.cols / 2;
  if (threads > 1 && in.cols > 1) {
    std::thread helper(work, 0, split);
    work(split, in.cols);
    helper.join();
  } else {
    work(0, in.cols);
  }
}

}  // namespace

void BuildEmbeddings(std::span<const std::vector<uint32_t>> sequences, Models* models) {
  const ModelOptions& options = models->options;
  const size_t n = models->items;
  const size_t dim = std::min(static_cast<size_t>(std::max(options.embedding_dim, 0)), n);
  models->embedding_dim = static_cast<int>(dim);
  models->embeddings.assign(n * dim, 0.0f);
  models->ann.reset();
  if (dim == 0) return;
  SparseRows ppmi = CoOccurrences(sequences, models->items, options.embedding_window);
  ToPpmi(&ppmi);

  // Range finder: Q spans A's dominant eigenspace after a few power iterations.
  const size_t width = std::min(n, dim + 16);
  Columns q{n, width, std::vector<double>(n * width)};
  std::mt19937_64 random(options.seed);
  std::normal_distribution<double> gaussian;
  for (double& x : q.values) x = gaussian(random);
  Columns aq;
  for (int iteration = 0; iteration < 4; ++iteration) {
    Multiply(ppmi, q, &aq, options.threads);
    q = std::move(aq);
    Orthonormalize(&q);
  }
  // The small problem B = Q^T A Q, solved exactly.
  Multiply(ppmi, q, &aq, options.threads);
  std::vector<double> b(width * width);
  for (size_t r = 0; r < width; ++r) {
    for (size_t c = 0; c < width; ++c) {
      double sum = 0;
      for (size_t i = 0; i < n; ++i) sum += q.column(r)[i] * aq.column(c)[i];
      b[r * width + c] = sum;
    }
  }
  for (size_t r = 0; r < width; ++r) {  // symmetric up to rounding: make it exactly so
    for (size_t c = r + 1; c < width; ++c) {
      b[r * width + c] = b[c * width + r] = 0.5 * (b[r * width + c] + b[c * width + r]);
    }
  }
  std::vector<double> lambda, w;
  SymmetricEigen(std::move(b), width, &lambda, &w);
  for (size_t i = 0; i < n; ++i) {
    float* row = &models->embeddings[i * dim];
    double norm = 0;
    for (size_t k = 0; k < dim; ++k) {
      if (lambda[k] <= 0) break;  // keep the positive part of the spectrum only
      double u = 0;
      for (size_t c = 0; c < width; ++c) u += q.column(c)[i] * w[c * width + k];
      row[k] = static_cast<float>(u * std::sqrt(lambda[k]));
      norm += static_cast<double>(row[k]) * row[k];
    }
    if (norm <= 1e-24) {
      std::fill(row, row + dim, 0.0f);  // an item without co-occurrences has no direction
      continue;
    }
    const auto scale = static_cast<float>(1 / std::sqrt(norm));
    for (size_t k = 0; k < dim; ++k) row[k] *= scale;
  }
  // Items seen fewer than ann_min_count times have a vector from a co-occurrence or two: noise,
  // and in a big shop most of the catalogue. Left out of the index, they keep their vectors
  // for the features.
  const std::vector<float>& count = models->popularity.count;
  const auto min_count = static_cast<float>(options.ann_min_count);
  models->ann =
      AnnIndex::Build(models->embeddings, static_cast<int>(dim), options.seed, 128,
                      [&](size_t item) { return item < count.size() && count[item] < min_count; });
}

}  // namespace surge::brain::internal
