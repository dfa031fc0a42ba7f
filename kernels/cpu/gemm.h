// General matrix multiply over row-major buffers, BLAS-style:
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(A) = A (stored M x K, row stride lda >= K) or A^T (stored K x M, lda >= M); same for B.
// beta == 0 never reads C (it may hold NaN/garbage), as in BLAS.
//
// Two full implementations back the dispatcher: our blocked/packed xsimd kernel (gemm_packed.*,
// Goto/van de Geijn loop nest around an MR x NR FMA micro-kernel) and Eigen's GEMM through
// Eigen::Map (gemm_eigen_avx2.cpp). gemm() picks between them per ISA from the benchmark figures
// recorded in gemm.cpp, and threads large products over column blocks with OpenMP.
#pragma once

namespace pianograd::kernels::cpu {

// Dispatched, multi-threaded above kParallelGrain flops.
template <class T>
void gemm(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B,
          long ldb, T beta, T* C, long ldc);

// A batch of products C_i = alpha * op(A + a_off[i]) op(B + b_off[i]) + beta * C_i, with C_i at
// C + i*M*ldc. Offsets (not strides) let broadcast batch dims point several products at one operand.
// Threads over the batch when the products are small, inside gemm when they are large.
template <class T>
void gemm_batched(long batch, bool transA, bool transB, long M, long N, long K, T alpha, const T* A,
                  const long* a_off, long lda, const T* B, const long* b_off, long ldb, T beta, T* C, long ldc);

// The two backends, single-threaded, for tests and benchmarks.
template <class T>  // ours, dispatched by active_isa() (scalar ISA -> ref::gemm)
void gemm_packed(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda,
                 const T* B, long ldb, T beta, T* C, long ldc);
bool gemm_eigen_available();  // Eigen is compiled for AVX2+FMA only (see gemm_eigen_avx2.cpp)
template <class T>  // throws std::logic_error when !gemm_eigen_available()
void gemm_eigen(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda,
                const T* B, long ldb, T beta, T* C, long ldc);

namespace ref {
// Triple loop with a double accumulator: the reference every variant is tested against.
template <class T>
void gemm(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B,
          long ldb, T beta, T* C, long ldc);
}  // namespace ref

// One namespace per ISA translation unit (gemm_<isa>.cpp), single-threaded.
#define PG_GEMM_ISA_DECL(ns)                                                                            \
  namespace ns {                                                                                        \
  template <class T>                                                                                    \
  void gemm_packed(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda,     \
                   const T* B, long ldb, T beta, T* C, long ldc);                                       \
  }
PG_GEMM_ISA_DECL(sse2)
PG_GEMM_ISA_DECL(avx2)
PG_GEMM_ISA_DECL(avx512)
#undef PG_GEMM_ISA_DECL

}  // namespace pianograd::kernels::cpu
