// Products with a matrix whose columns are each nonzero on one contiguous band of rows: filterbanks
// (log-frequency, mel, CQT kernels), whose column j weights only the FFT bins near its centre. The
// transcriber's [559 x 264] log filterbank has 1,604 nonzeros of 147,576 (1.1%): a dense GEMM spends 98.9%
// of its multiply-adds on zeros (5.5 ms of an 8 x 4 s training step at one thread), the banded product
// 1.1%. Exact for any matrix: zeros inside a band are multiplied like any other entry.
#pragma once
#include <vector>

namespace pianograd::kernels::cpu {

// The bands of a row-major [K, N] matrix w: column j is nonzero only in rows [lo[j], lo[j] + len[j])
// (len 0: an all-zero column); its band values are values[offset[j] .. offset[j] + len[j]).
template <class T>
struct ColumnBands {
  long K = 0, N = 0;
  std::vector<long> lo, len, offset;
  std::vector<T> values;
  long stored() const { return static_cast<long>(values.size()); }
};
template <class T> ColumnBands<T> column_bands(const T* w, long K, long N);

// y[M, N] = x[M, K] @ w (overwritten). Threaded over blocks of rows above kParallelGrain multiply-adds.
template <class T> void banded_matmul(const T* x, const ColumnBands<T>& w, T* y, long M);
// gx[M, K] = gy[M, N] @ w^T (overwritten): the input gradient of banded_matmul.
template <class T> void banded_matmul_t(const T* gy, const ColumnBands<T>& w, T* gx, long M);

}  // namespace pianograd::kernels::cpu
