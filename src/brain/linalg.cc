#include "brain/linalg.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/assert.h"

namespace surge::brain::internal {

float DotProduct(const float* a, const float* b, size_t n) {
  __m128 sum0 = _mm_setzero_ps(), sum1 = _mm_setzero_ps(), sum2 = _mm_setzero_ps(),
         sum3 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    sum0 = _mm_add_ps(sum0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    sum1 = _mm_add_ps(sum1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
    sum2 = _mm_add_ps(sum2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
    sum3 = _mm_add_ps(sum3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
  }
  for (; i + 4 <= n; i += 4) {
    sum0 = _mm_add_ps(sum0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_add_ps(_mm_add_ps(sum0, sum1), _mm_add_ps(sum2, sum3)));
  float total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

void Orthonormalize(Columns* matrix) {
  SURGE_ASSERT(matrix->values.size() == matrix->rows * matrix->cols);
  const size_t n = matrix->rows;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t c = 0; c < matrix->cols; ++c) {
      double* column = matrix->column(c);
      const double before = std::sqrt(std::inner_product(column, column + n, column, 0.0));
      for (size_t previous = 0; previous < c; ++previous) {
        const double* basis = matrix->column(previous);
        const double projection = std::inner_product(column, column + n, basis, 0.0);
        for (size_t i = 0; i < n; ++i) column[i] -= projection * basis[i];
      }
      const double norm = std::sqrt(std::inner_product(column, column + n, column, 0.0));
      // What is left after removing the span of the others is rounding noise: drop it.
      if (norm <= 1e-10 * std::max(before, 1e-300) || norm == 0) {
        std::fill(column, column + n, 0.0);
        continue;
      }
      for (size_t i = 0; i < n; ++i) column[i] /= norm;
    }
  }
}

void SymmetricEigen(std::vector<double> matrix, size_t n, std::vector<double>* values,
                    std::vector<double>* vectors) {
  SURGE_ASSERT(matrix.size() == n * n);
  auto a = [&](size_t i, size_t j) -> double& { return matrix[i * n + j]; };
  std::vector<double> v(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, total = 0;
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        total += a(i, j) * a(i, j);
        if (i != j) off += a(i, j) * a(i, j);
      }
    }
    if (off <= 1e-22 * std::max(total, 1e-300)) break;
    for (size_t p = 0; p < n; ++p) {
      for (size_t q = p + 1; q < n; ++q) {
        if (a(p, q) == 0) continue;
        // The rotation that zeroes a(p, q) (Golub & Van Loan, symmetric Schur).
        const double theta = (a(q, q) - a(p, p)) / (2 * a(p, q));
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (size_t k = 0; k < n; ++k) {
          const double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (size_t k = 0; k < n; ++k) {
          const double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
        for (size_t k = 0; k < n; ++k) {
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return a(x, x) > a(y, y); });
  values->resize(n);
  vectors->assign(n * n, 0.0);
  for (size_t k = 0; k < n; ++k) {
    (*values)[k] = a(order[k], order[k]);
    for (size_t i = 0; i < n; ++i) (*vectors)[i * n + k] = v[i * n + order[k]];
  }
}

}  // namespace surge::brain::internal
