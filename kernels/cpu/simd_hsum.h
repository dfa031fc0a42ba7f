// Horizontal sums of W rows at once, the one xsimd reduction the kernels must not take on trust:
// hsum_rows(rows)[i] = the sum of the lanes of rows[i], for a batch type B of W lanes and W rows.
//
// xsimd 8.1's haddp promises exactly that, and keeps it on every width but one: Debian bookworm's
// 8.1.0 returns, for batch<float, avx512f> (and the archs built on it, avx512bw among them), the sums of
// rows 2-3 and 4-5, and of rows 10-11 and 12-13, in each other's lanes (../shared/repro/
// xsimd_haddp_avx512.cpp). The modal bank summed its modes through it, so on every AVX-512 host the
// piano's partials came out of the wrong samples. That width takes our own transpose-and-add tree
// below; every other width calls haddp, whose result the tests check per ISA (SimdPrimitives.* in
// tests/kernels/simd_primitives_*.cpp) so a defect of this kind fails a named test.
//
// Included by the per-ISA translation units only (the AVX-512 branch needs -mavx512f, and is compiled
// only where __AVX512F__ is defined).
#pragma once
#include <immintrin.h>

#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/cpu/simd_native.h"

namespace pianograd::kernels::cpu::simd {

#if defined(__AVX512F__)
// 16 rows of 16 floats: three rounds of "pair up, add the halves" (within 128-bit lanes, then across
// them), 8 + 4 + 2 + 1 adds in all, the same work as xsimd's haddp with every lane where it belongs.
inline __m512 hsum_rows_avx512(const __m512* r) {
  // Round 1: rows 2j, 2j+1 -> per 128-bit block [a0+a2, b0+b2, a1+a3, b1+b3].
  __m512 p[8];
  for (int j = 0; j < 8; ++j)
    p[j] = _mm512_add_ps(_mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]), _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]));
  // Round 2: pairs (p[2k], p[2k+1]) -> per 128-bit block q the block's partial sums of rows 4k .. 4k+3.
  __m512 q[4];
  for (int k = 0; k < 4; ++k) {
    const __m512 lo = _mm512_shuffle_ps(p[2 * k], p[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 hi = _mm512_shuffle_ps(p[2 * k], p[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2));
    q[k] = _mm512_add_ps(lo, hi);
  }
  // Round 3: across 128-bit blocks. q[k] holds rows 4k..4k+3 in every block; add blocks 0+1 and 2+3,
  // keeping two row quads per vector, then add the remaining pair of blocks.
  const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(q[0], q[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(q[0], q[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(q[2], q[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(q[2], q[3], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
}
#endif

template <class B>
inline B hsum_rows(const B* rows) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<typename B::value_type, float> && B::size == 16 && NativeBatch<B>) {
    __m512 r[16];
    for (int i = 0; i < 16; ++i) r[i] = rows[i];
    return hsum_rows_avx512(r);
  } else {
    return xsimd::haddp(rows);
  }
#else
  return xsimd::haddp(rows);
#endif
}

}  // namespace pianograd::kernels::cpu::simd
