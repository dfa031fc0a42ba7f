// Banded products (banded_matmul.h). Rows of x are taken kRows at a time and transposed into a [K][kRows]
// tile, so every band multiply-add is a kRows-wide vector operation (the compiler vectorises the fixed
// inner loop at the baseline ISA) on a contiguous band of tile rows; the bands are short (1-20 entries),
// too short to vectorise along.
#include "kernels/cpu/banded_matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

namespace {
constexpr long kRows = 8;
}  // namespace

template <class T>
ColumnBands<T> column_bands(const T* w, long K, long N) {
  ColumnBands<T> b;
  b.K = K;
  b.N = N;
  b.lo.assign(static_cast<size_t>(N), 0);
  b.len.assign(static_cast<size_t>(N), 0);
  b.offset.assign(static_cast<size_t>(N), 0);
  for (long j = 0; j < N; ++j) {
    long lo = 0, hi = 0;  // [lo, hi): first to one past the last nonzero (NaN counts as nonzero)
    for (long i = 0; i < K; ++i)
      if (!(w[i * N + j] == T(0))) {
        if (hi == 0) lo = i;
        hi = i + 1;
      }
    b.lo[static_cast<size_t>(j)] = lo;
    b.len[static_cast<size_t>(j)] = hi - lo;
    b.offset[static_cast<size_t>(j)] = static_cast<long>(b.values.size());
    for (long i = lo; i < hi; ++i) b.values.push_back(w[i * N + j]);
  }
  return b;
}

template <class T>
void banded_matmul(const T* x, const ColumnBands<T>& w, T* y, long M) {
  const long K = w.K, N = w.N, blocks = (M + kRows - 1) / kRows;
#pragma omp parallel for schedule(static) if (M * w.stored() > kParallelGrain)
  for (long blk = 0; blk < blocks; ++blk) {
    thread_local std::vector<T> tile;
    tile.assign(static_cast<size_t>(K * kRows), T(0));
    const long r0 = blk * kRows, nr = std::min(kRows, M - r0);
    for (long r = 0; r < nr; ++r)
      for (long i = 0; i < K; ++i) tile[static_cast<size_t>(i * kRows + r)] = x[(r0 + r) * K + i];
    for (long j = 0; j < N; ++j) {
      T acc[kRows] = {};
      const T* v = w.values.data() + w.offset[static_cast<size_t>(j)];
      const T* t = tile.data() + w.lo[static_cast<size_t>(j)] * kRows;
      for (long i = 0; i < w.len[static_cast<size_t>(j)]; ++i)
        for (long r = 0; r < kRows; ++r) acc[r] += v[i] * t[i * kRows + r];
      for (long r = 0; r < nr; ++r) y[(r0 + r) * N + j] = acc[r];
    }
  }
}

template <class T>
void banded_matmul_t(const T* gy, const ColumnBands<T>& w, T* gx, long M) {
  const long K = w.K, N = w.N, blocks = (M + kRows - 1) / kRows;
#pragma omp parallel for schedule(static) if (M * w.stored() > kParallelGrain)
  for (long blk = 0; blk < blocks; ++blk) {
    thread_local std::vector<T> tile;
    tile.assign(static_cast<size_t>(K * kRows), T(0));
    const long r0 = blk * kRows, nr = std::min(kRows, M - r0);
    for (long j = 0; j < N; ++j) {
      T g[kRows] = {};
      for (long r = 0; r < nr; ++r) g[r] = gy[(r0 + r) * N + j];
      const T* v = w.values.data() + w.offset[static_cast<size_t>(j)];
      T* t = tile.data() + w.lo[static_cast<size_t>(j)] * kRows;
      for (long i = 0; i < w.len[static_cast<size_t>(j)]; ++i)
        for (long r = 0; r < kRows; ++r) t[i * kRows + r] += v[i] * g[r];
    }
    for (long r = 0; r < nr; ++r)
      for (long i = 0; i < K; ++i) gx[(r0 + r) * K + i] = tile[static_cast<size_t>(i * kRows + r)];
  }
}

#define PG_BANDED_INST(T)                                                                 \
  template ColumnBands<T> column_bands<T>(const T*, long, long);                           \
  template void banded_matmul<T>(const T*, const ColumnBands<T>&, T*, long);               \
  template void banded_matmul_t<T>(const T*, const ColumnBands<T>&, T*, long);
PG_BANDED_INST(float)
PG_BANDED_INST(double)
#undef PG_BANDED_INST

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(banded_matmul);
PG_CPU_KERNEL(banded_matmul_t);

}  // namespace pianograd::kernels::cpu
