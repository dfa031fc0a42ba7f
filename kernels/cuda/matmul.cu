// Matrix products through cuBLAS (DESIGN.md §3: libraries before hand-rolled code). Our matrices are
// row-major and cuBLAS is column-major; a row-major r x c buffer read column-major is its c x r
// transpose, so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: the operands swap places, the
// transposition flags stay, and nothing is copied.
#include <cublas_v2.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/cublas_handle.cuh"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

cublasStatus_t gemm_strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const float* alpha, const float* a, int lda, long long sa, const float* b, int ldb,
                            long long sb, const float* beta, float* c, int ldc, long long sc, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
cublasStatus_t gemm_strided(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const double* alpha, const double* a, int lda, long long sa, const double* b, int ldb,
                            long long sb, const double* beta, double* c, int ldc, long long sc, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

int to_int(long v, const char* what) {
  if (v < 0 || v > 0x7fffffffL) throw std::invalid_argument(std::string("cuda::matmul: ") + what + " out of range");
  return static_cast<int>(v);
}

}  // namespace

template <class T>
void matmul(const T* a, const T* b, T* c, long m, long n, long k, bool trans_a, bool trans_b, long batch,
            long stride_a, long stride_b, long stride_c, void* stream) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  const T one = T(1), zero = T(0);
  // Column-major call: (n x k) op(B)^T times (k x m) op(A)^T. Leading dimensions are the row lengths
  // of the row-major buffers: B is k x n (n per row) or, transposed, n x k (k per row); likewise A.
  const int ldb = to_int(trans_b ? k : n, "ldb"), lda = to_int(trans_a ? m : k, "lda");
  if (k == 0) {  // cuBLAS with k == 0 scales C by beta; we promise C = 0
    for (long i = 0; i < batch; ++i)
      check(cudaMemsetAsync(c + i * stride_c, 0, sizeof(T) * static_cast<size_t>(m * n), as_stream(stream)),
            "matmul k=0");
    return;
  }
  check_blas(gemm_strided(cublas_handle(as_stream(stream)), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                          trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, to_int(n, "n"), to_int(m, "m"), to_int(k, "k"), &one,
                          b, ldb, stride_b, a, lda, stride_a, &zero, c, to_int(n, "ldc"), stride_c,
                          to_int(batch, "batch")),
             "gemm");
}

template void matmul<float>(const float*, const float*, float*, long, long, long, bool, bool, long, long, long,
                            long, void*);
template void matmul<double>(const double*, const double*, double*, long, long, long, bool, bool, long, long,
                             long, long, void*);

}  // namespace pianograd::kernels::cuda
