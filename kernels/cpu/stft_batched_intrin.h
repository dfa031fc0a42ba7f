// Intrinsics the batched STFT (kernels/cpu/stft_batched_simd.h) needs and xsimd 8.1 lacks or gets
// wrong. Register transposes: frames enter and leave the [index][lane] layout through L x L block
// transposes instead of L scalar stores per sample.
// xsimd 8.1 has no transpose and its zip_lo/zip_hi interleave within 128-bit lanes only on AVX and
// AVX-512, so the 4- and 8-lane cases use the SSE/AVX intrinsics directly (the branch for another width
// is a discarded `if constexpr`, never instantiated in a TU without those -m flags). Other widths (the
// 16 lanes of the emulated batches of the tests, kernels/cpu/emulated_batch.h) go through memory.
#pragma once
#include <immintrin.h>

#include <xsimd/xsimd.hpp>

#include "kernels/cpu/simd_native.h"

namespace pianograd::kernels::cpu::simd {

// r[i] lane j  ->  r[j] lane i, for an L x L block held in L vectors.
template <class B>
inline void transpose(B* r) {
  constexpr int L = static_cast<int>(B::size);
  if constexpr (L == 4 && NativeBatch<B>) {
    __m128 a = r[0], b = r[1], c = r[2], d = r[3];
    _MM_TRANSPOSE4_PS(a, b, c, d);
    r[0] = a, r[1] = b, r[2] = c, r[3] = d;
  } else if constexpr (L == 8 && NativeBatch<B>) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
  } else {
    alignas(64) float a[L * L], t[L * L];
    for (int i = 0; i < L; ++i) r[i].store_aligned(a + i * L);
    for (int i = 0; i < L; ++i)
      for (int j = 0; j < L; ++j) t[j * L + i] = a[i * L + j];
    for (int i = 0; i < L; ++i) r[i] = B::load_aligned(t + i * L);
  }
}

// (re[0], im[0], re[1], im[1], ...) over 2L floats: lo gets the first L, hi the rest.
template <class B>
inline void interleave(const B& re, const B& im, B& lo, B& hi) {
  constexpr int L = static_cast<int>(B::size);
  if constexpr (L == 4 && NativeBatch<B>) {
    lo = _mm_unpacklo_ps(re, im);
    hi = _mm_unpackhi_ps(re, im);
  } else if constexpr (L == 8 && NativeBatch<B>) {
    const __m256 a = _mm256_unpacklo_ps(re, im), b = _mm256_unpackhi_ps(re, im);  // per 128-bit half
    lo = _mm256_permute2f128_ps(a, b, 0x20);
    hi = _mm256_permute2f128_ps(a, b, 0x31);
  } else {
    alignas(64) float r[L], i[L], o[2 * L];
    re.store_aligned(r);
    im.store_aligned(i);
    for (int k = 0; k < L; ++k) o[2 * k] = r[k], o[2 * k + 1] = i[k];
    lo = B::load_aligned(o);
    hi = B::load_aligned(o + L);
  }
}

// 1/sqrt(x) to ~12 bits (14 on AVX-512). xsimd 8.1's AVX-512 rsqrt calls _mm512_rsqrt23_ps, which
// no compiler declares, so that width uses _mm512_rsqrt14_ps itself.
template <class B>
inline B rsqrt_estimate(const B& x) {
  if constexpr (B::size == 16 && NativeBatch<B>) return _mm512_rsqrt14_ps(x);
  else return xsimd::rsqrt(x);
}

}  // namespace pianograd::kernels::cpu::simd
