// Private to src/brain: the little dense linear algebra the embeddings need.
#pragma once

#include <cstddef>
#include <vector>

namespace surge::brain::internal {

// A column-major rows x cols matrix.
struct Columns {
  size_t rows = 0, cols = 0;
  std::vector<double> values;  // column c is values[c * rows, (c + 1) * rows)
  double* column(size_t c) { return values.data() + c * rows; }
  const double* column(size_t c) const { return values.data() + c * rows; }
};

// The inner product of two float vectors of `n` values, four SSE lanes times four independent
// sums (a plain loop cannot be vectorised without reassociating, and its one chain of adds
// costs four cycles a value: the HNSW search and the ranker's features compute thousands of
// these per request). Reads exactly n values of each.
float DotProduct(const float* a, const float* b, size_t n);

// Makes the columns orthonormal (modified Gram-Schmidt, twice for stability). A column that is
// (numerically) in the span of the previous ones becomes zero.
void Orthonormalize(Columns* matrix);

// Eigen-decomposition of the symmetric n x n row-major `matrix` (cyclic Jacobi): eigenvalues in
// descending order, and the matching eigenvectors as the columns of the row-major n x n
// `vectors`.
void SymmetricEigen(std::vector<double> matrix, size_t n, std::vector<double>* values,
                    std::vector<double>* vectors);

}  // namespace surge::brain::internal
