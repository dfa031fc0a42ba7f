// Baseline-compiled GEMM dispatcher: the scalar reference, ISA dispatch of our packed kernel, the
// guarded entry into the Eigen backend, and OpenMP threading over column (or row) blocks.
#include "kernels/cpu/gemm.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

namespace avx2 {  // gemm_eigen_avx2.cpp
template <class T>
void gemm_eigen(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B,
                long ldb, T beta, T* C, long ldc);
}  // namespace avx2

namespace ref {
template <class T>
void gemm(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B, long ldb,
          T beta, T* C, long ldc) {
  for (long i = 0; i < M; ++i) {
    for (long j = 0; j < N; ++j) {
      double acc = 0.0;
      for (long k = 0; k < K; ++k) {
        const T a = transA ? A[k * lda + i] : A[i * lda + k];
        const T b = transB ? B[j * ldb + k] : B[k * ldb + j];
        acc += static_cast<double>(a) * static_cast<double>(b);
      }
      T& c = C[i * ldc + j];
      c = static_cast<T>(static_cast<double>(alpha) * acc + (beta == T(0) ? 0.0 : static_cast<double>(beta) * c));
    }
  }
}
template void gemm<float>(bool, bool, long, long, long, float, const float*, long, const float*, long, float,
                          float*, long);
template void gemm<double>(bool, bool, long, long, long, double, const double*, long, const double*, long,
                           double, double*, long);
}  // namespace ref

template <class T>
using GemmFn = void (*)(bool, bool, long, long, long, T, const T*, long, const T*, long, T, T*, long);

namespace {
template <class T>
GemmFn<T> pick_packed() {
  switch (active_isa()) {
    case Isa::avx512: return &avx512::gemm_packed<T>;
    case Isa::avx2: return &avx2::gemm_packed<T>;
    case Isa::sse2: return &sse2::gemm_packed<T>;
    case Isa::scalar: break;
  }
  return &ref::gemm<T>;
}

// Backend choice, measured with bench/bench_matmul.cpp (single thread, square n, AMD EPYC 2 cores,
// AVX2+FMA, GFLOP/s, ours / Eigen):
//   n      64           128          256          512          1024
//   f32    58.0 / 75.5  76.3 / 83.7  82.1 / 85.7  71.8 / 85.3  71.4 / 78.9   (scalar ref: 2.5, 1.4, 1.3)
//   f64    35.6 / 37.1  38.5 / 41.9  39.8 / 43.3  33.2 / 41.1  42.5 / 40.1
// Eigen is ahead at every size but f64 n=1024 (by 3-25%; its packing is cheaper at n=64), so the
// AVX2 path uses Eigen. Our kernel serves the ISAs Eigen is not compiled for: SSE2, and AVX-512, where
// its 6x32 zmm tiles beat AVX2-compiled Eigen (AMD Zen 4, f32, one thread: n=256 0.33 vs 0.42 ms, n=512
// 2.8 vs 3.4 ms; n=128 0.048 vs 0.043 ms).
// A handful of rows (decoding one token at a time: M = batch) is a matrix-vector product, where packing B
// costs more than the multiply-adds: our packed kernel spent ~3x its FLOP time packing the weights for
// M = 1 in the motion LM's decoding. Eigen's GEMV-style path reads B once, unpacked.
constexpr long kSmallM = 8;

template <class T>
GemmFn<T> pick_backend(long M) {
  switch (active_isa()) {
    case Isa::avx2: return &avx2::gemm_eigen<T>;
    case Isa::avx512: return M <= kSmallM ? &avx2::gemm_eigen<T> : &avx512::gemm_packed<T>;
    case Isa::sse2: return &sse2::gemm_packed<T>;
    case Isa::scalar: break;
  }
  return &ref::gemm<T>;
}

// Work below this many flops stays on one thread (a 64^3 product: team start-up would dominate).
constexpr double kGemmParallelFlops = 2.0 * 64 * 64 * 64;

template <class T>
void run_threaded(GemmFn<T> fn, bool tA, bool tB, long M, long N, long K, T alpha, const T* A, long lda,
                  const T* B, long ldb, T beta, T* C, long ldc) {
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (flops < kGemmParallelFlops || omp_get_max_threads() == 1 || omp_in_parallel()) {
    fn(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split the longer side of C into one block per thread; blocks are whole micro-tiles (multiples of
  // 48 = lcm of MR 6 and NR 16) so no thread computes a ragged edge in the middle of C.
  const bool split_n = N >= M;
  const long len = split_n ? N : M;
#pragma omp parallel
  {
    const long nt = omp_get_num_threads(), t = omp_get_thread_num();
    const long chunk = ((len + nt - 1) / nt + 47) / 48 * 48;
    const long lo = std::min(len, t * chunk), hi = std::min(len, lo + chunk);
    if (hi > lo) {
      if (split_n) {
        fn(tA, tB, M, hi - lo, K, alpha, A, lda, tB ? B + lo * ldb : B + lo, ldb, beta, C + lo, ldc);
      } else {
        fn(tA, tB, hi - lo, N, K, alpha, tA ? A + lo : A + lo * lda, lda, B, ldb, beta, C + lo * ldc, ldc);
      }
    }
  }
}
}  // namespace

bool gemm_eigen_available() { return isa_supported(Isa::avx2); }

template <class T>
void gemm_packed(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B,
                 long ldb, T beta, T* C, long ldc) {
  pick_packed<T>()(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_eigen(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B,
                long ldb, T beta, T* C, long ldc) {
  if (!gemm_eigen_available()) throw std::logic_error("gemm_eigen: needs AVX2+FMA, which this CPU lacks");
  avx2::gemm_eigen<T>(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B, long ldb,
          T beta, T* C, long ldc) {
  run_threaded<T>(pick_backend<T>(M), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_batched(long batch, bool transA, bool transB, long M, long N, long K, T alpha, const T* A,
                  const long* a_off, long lda, const T* B, const long* b_off, long ldb, T beta, T* C, long ldc) {
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (batch >= 2 && flops < kGemmParallelFlops && !omp_in_parallel()) {
    const GemmFn<T> fn = pick_backend<T>(M);
#pragma omp parallel for schedule(static) if (flops * static_cast<double>(batch) >= kGemmParallelFlops)
    for (long i = 0; i < batch; ++i)
      fn(transA, transB, M, N, K, alpha, A + a_off[i], lda, B + b_off[i], ldb, beta, C + i * M * ldc, ldc);
    return;
  }
  for (long i = 0; i < batch; ++i)
    gemm<T>(transA, transB, M, N, K, alpha, A + a_off[i], lda, B + b_off[i], ldb, beta, C + i * M * ldc, ldc);
}

#define PG_GEMM_INSTANTIATE(T)                                                                                  \
  template void gemm<T>(bool, bool, long, long, long, T, const T*, long, const T*, long, T, T*, long);         \
  template void gemm_packed<T>(bool, bool, long, long, long, T, const T*, long, const T*, long, T, T*, long);  \
  template void gemm_eigen<T>(bool, bool, long, long, long, T, const T*, long, const T*, long, T, T*, long); \
  template void gemm_batched<T>(long, bool, bool, long, long, long, T, const T*, const long*, long, const T*, \
                                const long*, long, T, T*, long);
PG_GEMM_INSTANTIATE(float)
PG_GEMM_INSTANTIATE(double)
#undef PG_GEMM_INSTANTIATE

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(gemm);
PG_CPU_KERNEL(gemm_packed);
PG_CPU_KERNEL(gemm_batched);

}  // namespace pianograd::kernels::cpu
