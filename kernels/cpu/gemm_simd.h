// Our GEMM: the Goto/van de Geijn loop nest (Goto & van de Geijn 2008, "Anatomy of high-performance
// matrix multiplication"; BLIS's five loops) around an MR x NR register-blocked FMA micro-kernel.
//   jc over N by NC : a KC x NC panel of op(B) is packed once and stays in L3
//   pc over K by KC : ...
//   ic over M by MC : an MC x KC block of op(A) is packed into L2
//   jr, ir          : the micro-kernel streams an NR-wide sliver of B (L1) against an MR-tall sliver of A
// Packing turns every transpose/leading-dimension case into the same unit-stride micro-panels, so the
// micro-kernel has one shape. MR = 6, NR = 2 vector widths: 12 accumulators + 2 B vectors + 1
// broadcast = 15 of the 16 ymm registers on AVX2 (6x16 floats, 6x8 doubles).
// Included only by the per-ISA translation units (xsimd 8.1 needs the ISA's flags on the whole TU).
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace pianograd::kernels::cpu::simd {

template <class Arch, class T>
struct GemmTraits {
  using B = xsimd::batch<T, Arch>;
  static constexpr long W = static_cast<long>(B::size);
  static constexpr long MR = 6;
  static constexpr long NR = 2 * W;
  // KC * NR * sizeof(T) = 16 KiB (AVX2): a B sliver fills half of L1d, leaving room for A and C.
  static constexpr long KC = 256;
  // MC * KC * sizeof(T) ~ 144 KiB: the packed A block sits well inside a 512 KiB L2.
  static constexpr long MC = sizeof(T) == 4 ? 144 : 72;
  static constexpr long NC = sizeof(T) == 4 ? 4096 : 2048;
};

// Thread-local, 64-byte aligned scratch: one allocation per thread for the life of the program.
// Every helper is templated on Arch: the same name compiled in two ISA TUs must not be one symbol (the
// linker would keep either body, e.g. AVX-512 code on an AVX2 machine).
template <class Arch, class T>
T* scratch(std::vector<T>& buf, size_t n) {
  const size_t pad = 64 / sizeof(T);
  if (buf.size() < n + pad) buf.resize(n + pad);
  auto p = reinterpret_cast<std::uintptr_t>(buf.data());
  return reinterpret_cast<T*>((p + 63) & ~std::uintptr_t{63});
}

// op(A)[i0:i0+mc, p0:p0+kc] -> MR-row micro-panels, each stored k-major (MR values per k), with the
// rows past mc zero so edge tiles need no special case inside the micro-kernel.
template <class Arch, class T, long MR>
void pack_a(bool trans, const T* A, long lda, long i0, long p0, long mc, long kc, T* out) {
  for (long ir = 0; ir < mc; ir += MR) {
    const long mr = std::min(MR, mc - ir);
    T* dst = out + ir * kc;
    if (trans) {  // op(A)(i,k) = A[k*lda + i]: contiguous in i
      for (long p = 0; p < kc; ++p) {
        const T* src = A + (p0 + p) * lda + i0 + ir;
        long i = 0;
        for (; i < mr; ++i) dst[p * MR + i] = src[i];
        for (; i < MR; ++i) dst[p * MR + i] = T(0);
      }
    } else {  // op(A)(i,k) = A[i*lda + k]: read each row contiguously
      for (long i = 0; i < MR; ++i) {
        if (i < mr) {
          const T* src = A + (i0 + ir + i) * lda + p0;
          for (long p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        } else {
          for (long p = 0; p < kc; ++p) dst[p * MR + i] = T(0);
        }
      }
    }
  }
}

// op(B)[p0:p0+kc, j0:j0+nc] -> NR-column micro-panels, k-major (NR values per k), zero-padded.
template <class Arch, class T, long NR>
void pack_b(bool trans, const T* Bm, long ldb, long p0, long j0, long kc, long nc, T* out) {
  for (long jr = 0; jr < nc; jr += NR) {
    const long nr = std::min(NR, nc - jr);
    T* dst = out + jr * kc;
    if (!trans) {  // op(B)(k,j) = B[k*ldb + j]: contiguous in j
      for (long p = 0; p < kc; ++p) {
        const T* src = Bm + (p0 + p) * ldb + j0 + jr;
        long j = 0;
        for (; j < nr; ++j) dst[p * NR + j] = src[j];
        for (; j < NR; ++j) dst[p * NR + j] = T(0);
      }
    } else {  // op(B)(k,j) = B[j*ldb + k]
      for (long j = 0; j < NR; ++j) {
        if (j < nr) {
          const T* src = Bm + (j0 + jr + j) * ldb + p0;
          for (long p = 0; p < kc; ++p) dst[p * NR + j] = src[p];
        } else {
          for (long p = 0; p < kc; ++p) dst[p * NR + j] = T(0);
        }
      }
    }
  }
}

// C[mr, nr] = alpha * (Ap sliver @ Bp sliver) + beta * C. Full tiles store straight from registers;
// edge tiles go through a small buffer so nothing outside C is touched.
template <class Arch, class T>
inline void micro_kernel(long kc, const T* a, const T* b, T alpha, T beta, T* C, long ldc, long mr, long nr) {
  using Tr = GemmTraits<Arch, T>;
  using B = typename Tr::B;
  constexpr long W = Tr::W, MR = Tr::MR, NR = Tr::NR;
  B c00(T(0)), c01(T(0)), c10(T(0)), c11(T(0)), c20(T(0)), c21(T(0));
  B c30(T(0)), c31(T(0)), c40(T(0)), c41(T(0)), c50(T(0)), c51(T(0));
  for (long p = 0; p < kc; ++p) {
    const B b0 = B::load_aligned(b), b1 = B::load_aligned(b + W);
    B ai(a[0]);
    c00 = xsimd::fma(ai, b0, c00);
    c01 = xsimd::fma(ai, b1, c01);
    ai = B(a[1]);
    c10 = xsimd::fma(ai, b0, c10);
    c11 = xsimd::fma(ai, b1, c11);
    ai = B(a[2]);
    c20 = xsimd::fma(ai, b0, c20);
    c21 = xsimd::fma(ai, b1, c21);
    ai = B(a[3]);
    c30 = xsimd::fma(ai, b0, c30);
    c31 = xsimd::fma(ai, b1, c31);
    ai = B(a[4]);
    c40 = xsimd::fma(ai, b0, c40);
    c41 = xsimd::fma(ai, b1, c41);
    ai = B(a[5]);
    c50 = xsimd::fma(ai, b0, c50);
    c51 = xsimd::fma(ai, b1, c51);
    a += MR;
    b += NR;
  }
  const B* rows[MR][2] = {{&c00, &c01}, {&c10, &c11}, {&c20, &c21}, {&c30, &c31}, {&c40, &c41}, {&c50, &c51}};
  const B va(alpha), vb(beta);
  if (mr == MR && nr == NR) {
    for (long i = 0; i < MR; ++i) {
      T* row = C + i * ldc;
      for (long h = 0; h < 2; ++h) {
        B v = va * *rows[i][h];
        if (beta != T(0)) v = xsimd::fma(vb, B::load_unaligned(row + h * W), v);
        v.store_unaligned(row + h * W);
      }
    }
    return;
  }
  alignas(64) T tmp[MR * NR];
  for (long i = 0; i < MR; ++i) {
    (va * *rows[i][0]).store_aligned(tmp + i * NR);
    (va * *rows[i][1]).store_aligned(tmp + i * NR + W);
  }
  for (long i = 0; i < mr; ++i) {
    T* row = C + i * ldc;
    if (beta == T(0)) {
      for (long j = 0; j < nr; ++j) row[j] = tmp[i * NR + j];
    } else {
      for (long j = 0; j < nr; ++j) row[j] = tmp[i * NR + j] + beta * row[j];
    }
  }
}

template <class Arch, class T>
void gemm_packed(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* Bm,
                 long ldb, T beta, T* C, long ldc) {
  using Tr = GemmTraits<Arch, T>;
  constexpr long MR = Tr::MR, NR = Tr::NR, KC = Tr::KC, MC = Tr::MC, NC = Tr::NC;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {  // nothing to accumulate: C = beta * C (beta 0 clears, never reads)
    for (long i = 0; i < M; ++i)
      for (long j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return;
  }
  thread_local std::vector<T> abuf, bbuf;
  T* Ap = scratch<Arch>(abuf, static_cast<size_t>(MC * KC));
  T* Bp = scratch<Arch>(bbuf, static_cast<size_t>(KC * ((std::min(NC, N) + NR - 1) / NR * NR)));
  for (long jc = 0; jc < N; jc += NC) {
    const long nc = std::min(NC, N - jc);
    for (long pc = 0; pc < K; pc += KC) {
      const long kc = std::min(KC, K - pc);
      pack_b<Arch, T, NR>(transB, Bm, ldb, pc, jc, kc, nc, Bp);
      const T beta_k = pc == 0 ? beta : T(1);  // later K blocks accumulate onto the first
      for (long ic = 0; ic < M; ic += MC) {
        const long mc = std::min(MC, M - ic);
        pack_a<Arch, T, MR>(transA, A, lda, ic, pc, mc, kc, Ap);
        for (long jr = 0; jr < nc; jr += NR) {
          const long nr = std::min(NR, nc - jr);
          for (long ir = 0; ir < mc; ir += MR) {
            micro_kernel<Arch, T>(kc, Ap + ir * kc, Bp + jr * kc, alpha, beta_k, C + (ic + ir) * ldc + jc + jr,
                                  ldc, std::min(MR, mc - ir), nr);
          }
        }
      }
    }
  }
}

}  // namespace pianograd::kernels::cpu::simd

#define PG_GEMM_ISA_DEFINE(ns, Arch)                                                                       \
  namespace pianograd::kernels::cpu::ns {                                                                  \
  template <class T>                                                                                       \
  void gemm_packed(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda,        \
                   const T* B, long ldb, T beta, T* C, long ldc) {                                         \
    simd::gemm_packed<Arch, T>(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);              \
  }                                                                                                        \
  template void gemm_packed<float>(bool, bool, long, long, long, float, const float*, long, const float*,  \
                                   long, float, float*, long);                                             \
  template void gemm_packed<double>(bool, bool, long, long, long, double, const double*, long,             \
                                    const double*, long, double, double*, long);                           \
  }
