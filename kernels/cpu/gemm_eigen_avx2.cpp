// The Eigen backend of gemm: Eigen::Map views over the caller's row-major buffers (no copies), with
// transposes as Eigen expressions, so Eigen's own packed GEBP kernel does the work.
//
// Why only an AVX2+FMA TU: Eigen picks its SIMD width from the compiler flags of the including TU, and
// the library is built for the x86-64 baseline (SSE2). Compiled here, Eigen gets 8-wide FMA packets
// and the comparison with our kernel is fair. This must stay the only TU of the library that
// instantiates Eigen's GEMM: the same template instantiated with other -m flags elsewhere would be one
// symbol with two bodies, and the linker could keep either. The dispatcher (gemm.cpp, baseline) checks
// the CPU before calling in here, since any function of this TU may use AVX instructions.
//
// EIGEN_DONT_PARALLELIZE: the dispatcher threads both backends the same way (column blocks), so Eigen
// must not open its own OpenMP team inside ours.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

#include "kernels/cpu/gemm.h"

namespace pianograd::kernels::cpu::avx2 {

template <class T>
void gemm_eigen(bool transA, bool transB, long M, long N, long K, T alpha, const T* A, long lda, const T* B,
                long ldb, T beta, T* C, long ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using CMap = Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  using MMap = Eigen::Map<Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  if (M <= 0 || N <= 0) return;
  MMap c(C, M, N, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) {
    c.setZero();  // BLAS semantics: C is not read when beta is 0 (it may hold NaN)
  } else if (beta != T(1)) {
    c *= beta;
  }
  if (K <= 0 || alpha == T(0)) return;
  const CMap a(A, transA ? K : M, transA ? M : K, Eigen::OuterStride<>(lda));
  const CMap b(B, transB ? N : K, transB ? K : N, Eigen::OuterStride<>(ldb));
  if (!transA && !transB) c.noalias() += alpha * a * b;
  if (!transA && transB) c.noalias() += alpha * a * b.transpose();
  if (transA && !transB) c.noalias() += alpha * a.transpose() * b;
  if (transA && transB) c.noalias() += alpha * a.transpose() * b.transpose();
}

template void gemm_eigen<float>(bool, bool, long, long, long, float, const float*, long, const float*, long,
                                float, float*, long);
template void gemm_eigen<double>(bool, bool, long, long, long, double, const double*, long, const double*, long,
                                 double, double*, long);

}  // namespace pianograd::kernels::cpu::avx2
