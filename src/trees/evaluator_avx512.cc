// The AVX-512 kernels of the evaluator: 16 rows in the 16 lanes of a register walk a perfect tree
// together. The nodes of a level with at most 64 entries are picked out of registers by lane
// permutes (no memory access per row); only the rows' keys, and larger levels, are gathered.
// Compiled for AVX-512F through function attributes, so the rest of the build keeps its baseline
// and the evaluator calls in here only when the CPU says it can (Avx512Available).
#include <immintrin.h>

#include <utility>

#include "trees/evaluator.h"

// GCC 12 reports the _mm512_undefined_* placeholders inside its own intrinsics as "may be used
// uninitialized" (GCC bug 105593); they are deliberately undefined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SURGE_AVX512 __attribute__((target("avx512f")))

namespace surge::trees::internal {
namespace {

// Entry `index` (per lane) of array[base, base + size): a 32-bit value, integer or float bits.
// Reads up to 16 entries past base + size when size < 16 (callers guarantee padding).
template <uint32_t kBase, uint32_t kSize>
SURGE_AVX512 inline __m512i Lookup(const void* array_raw, __m512i index) {
  const auto* array = static_cast<const uint32_t*>(array_raw) + kBase;
  if constexpr (kSize <= 16) {
    return _mm512_permutexvar_epi32(index, _mm512_loadu_si512(array));
  } else if constexpr (kSize == 32) {
    return _mm512_permutex2var_epi32(_mm512_loadu_si512(array), index,
                                     _mm512_loadu_si512(array + 16));
  } else if constexpr (kSize == 64) {
    const __m512i low =
        _mm512_permutex2var_epi32(_mm512_loadu_si512(array), index, _mm512_loadu_si512(array + 16));
    const __m512i high = _mm512_permutex2var_epi32(_mm512_loadu_si512(array + 32), index,
                                                   _mm512_loadu_si512(array + 48));
    return _mm512_mask_blend_epi32(_mm512_test_epi32_mask(index, _mm512_set1_epi32(32)), low, high);
  } else {
    return _mm512_i32gather_epi32(index, array, 4);
  }
}

// Moves the lanes' positions (index within the level) of kTrees trees down one level: to 2p
// when the row's key is below the node's threshold key, else to 2p + 1. The trees are
// independent chains of gathers, interleaved so that one's latency hides behind the others'.
template <uint32_t kLevel, size_t kTrees>
SURGE_AVX512 inline void Descend(const PerfectView* trees, const uint32_t* keys,
                                 __m512i row_offsets, __m512i* positions) {
  constexpr uint32_t kBase = (1u << kLevel) - 1;
  constexpr uint32_t kSize = 1u << kLevel;
  __m512i keys_read[kTrees];
  __m512i thresholds[kTrees];
  for (size_t t = 0; t < kTrees; ++t) {
    const __m512i key_index = Lookup<kBase, kSize>(trees[t].key_index, positions[t]);
    thresholds[t] = Lookup<kBase, kSize>(trees[t].threshold_key, positions[t]);
    keys_read[t] = _mm512_i32gather_epi32(_mm512_add_epi32(row_offsets, key_index), keys, 4);
  }
  for (size_t t = 0; t < kTrees; ++t) {
    const __mmask16 right = _mm512_cmpge_epu32_mask(keys_read[t], thresholds[t]);
    positions[t] = _mm512_add_epi32(positions[t], positions[t]);
    positions[t] = _mm512_mask_add_epi32(positions[t], right, positions[t], _mm512_set1_epi32(1));
  }
}

template <uint32_t kDepth, size_t kTrees, uint32_t... kLevels>
SURGE_AVX512 inline void DescendAll([[maybe_unused]] const PerfectView* trees,
                                    [[maybe_unused]] const uint32_t* keys,
                                    [[maybe_unused]] __m512i row_offsets,
                                    [[maybe_unused]] __m512i* positions,
                                    std::integer_sequence<uint32_t, kLevels...>) {
  (Descend<kLevels, kTrees>(trees, keys, row_offsets, positions), ...);
}

template <uint32_t kDepth, size_t kTrees>
SURGE_AVX512 void Walk(const PerfectView* trees, const uint32_t* keys, __m512i row_offsets,
                       float* margins) {
  __m512i positions[kTrees];
  for (size_t t = 0; t < kTrees; ++t) positions[t] = _mm512_setzero_si512();
  DescendAll<kDepth, kTrees>(trees, keys, row_offsets, positions,
                             std::make_integer_sequence<uint32_t, kDepth>());
  // Leaves are added in tree order, as a row-at-a-time walk would.
  __m512 margin = _mm512_loadu_ps(margins);
  for (size_t t = 0; t < kTrees; ++t) {
    margin = _mm512_add_ps(
        margin, _mm512_castsi512_ps(Lookup<0, (1u << kDepth)>(trees[t].leaves, positions[t])));
  }
  _mm512_storeu_ps(margins, margin);
}

template <uint32_t kDepth>
SURGE_AVX512 void WalkGroup(const PerfectView* trees, size_t count, const uint32_t* keys,
                            __m512i row_offsets, float* margins) {
  switch (count) {
    case 1:
      return Walk<kDepth, 1>(trees, keys, row_offsets, margins);
    case 2:
      return Walk<kDepth, 2>(trees, keys, row_offsets, margins);
    case 3:
      return Walk<kDepth, 3>(trees, keys, row_offsets, margins);
    case 4:
      return Walk<kDepth, 4>(trees, keys, row_offsets, margins);
    case 5:
      return Walk<kDepth, 5>(trees, keys, row_offsets, margins);
    case 6:
      return Walk<kDepth, 6>(trees, keys, row_offsets, margins);
    case 7:
      return Walk<kDepth, 7>(trees, keys, row_offsets, margins);
    case 8:
      return Walk<kDepth, 8>(trees, keys, row_offsets, margins);
    default:
      SURGE_ASSERT_MSG(false, "a group of 1 to kAvx512Group trees");
  }
}

}  // namespace

bool Avx512Available() { return __builtin_cpu_supports("avx512f"); }

SURGE_AVX512 void WalkPerfectAvx512(const PerfectView* trees, size_t count, const uint32_t* keys,
                                    size_t stride, float* margins) {
  const __m512i row_offsets =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(stride)));
  for (size_t t = 1; t < count; ++t) SURGE_ASSERT(trees[t].depth == trees[0].depth);
  switch (trees[0].depth) {
    case 0:
      return WalkGroup<0>(trees, count, keys, row_offsets, margins);
    case 1:
      return WalkGroup<1>(trees, count, keys, row_offsets, margins);
    case 2:
      return WalkGroup<2>(trees, count, keys, row_offsets, margins);
    case 3:
      return WalkGroup<3>(trees, count, keys, row_offsets, margins);
    case 4:
      return WalkGroup<4>(trees, count, keys, row_offsets, margins);
    case 5:
      return WalkGroup<5>(trees, count, keys, row_offsets, margins);
    case 6:
      return WalkGroup<6>(trees, count, keys, row_offsets, margins);
    case 7:
      return WalkGroup<7>(trees, count, keys, row_offsets, margins);
    case 8:
      return WalkGroup<8>(trees, count, keys, row_offsets, margins);
    default:
      SURGE_ASSERT_MSG(false, "perfect tree deeper than kPerfectDepthMax");
  }
}

SURGE_AVX512 void FillKeysAvx512(const float* rows, size_t count, size_t columns, uint32_t* keys) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512i top = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512i all = _mm512_set1_epi32(-1);
  for (size_t r = 0; r < Evaluator::kBlockRows; ++r) {
    const float* row = rows + (r < count ? r : 0) * columns;
    uint32_t* missing_low = keys + r * 2 * columns;
    uint32_t* missing_high = missing_low + columns;
    for (size_t c = 0; c < columns; c += 16) {
      const auto mask =
          static_cast<__mmask16>(columns - c >= 16 ? 0xFFFFu : (1u << (columns - c)) - 1);
      const __m512 value = _mm512_maskz_loadu_ps(mask, row + c);
      // OrderKey, lane-wise: (bits of value + 0) ^ (sign ? all ones : top bit).
      const __m512i bits = _mm512_castps_si512(_mm512_add_ps(value, zero));
      const __m512i key = _mm512_xor_si512(bits, _mm512_or_si512(_mm512_srai_epi32(bits, 31), top));
      const __mmask16 missing = _mm512_cmp_ps_mask(value, value, _CMP_UNORD_Q);
      _mm512_mask_storeu_epi32(missing_low + c, mask,
                               _mm512_mask_mov_epi32(key, missing, _mm512_setzero_si512()));
      _mm512_mask_storeu_epi32(missing_high + c, mask, _mm512_mask_mov_epi32(key, missing, all));
    }
  }
}

}  // namespace surge::trees::internal
