// Reductions, softmax and layer norm. Contiguous rows: one thread block per row, each thread folds a
// strided slice of the row and CUB's BlockReduce combines the 256 partials (a tree, so a float row
// sum carries O(log n) rounding growth instead of the sequential O(n)). Strided reductions
// (inner > 1): one thread per output walking k, adjacent threads reading adjacent addresses.
// Few outputs over a long axis (a full sum, a bias gradient [N*T, 88] -> [88]) would leave most of the
// device idle that way, so the axis is then split into chunks reduced in parallel into a scratch
// buffer of partials, and a second launch folds the partials (two passes, as CUB's DeviceReduce).
#include <cub/block/block_reduce.cuh>

#include <cmath>
#include <cuda/std/limits>

#include "kernels/common/reduce_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_scratch.cuh"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};

template <class T>
__device__ T extremum_identity(bool is_min) {
  return is_min ? ::cuda::std::numeric_limits<T>::infinity() : -::cuda::std::numeric_limits<T>::infinity();
}

// Block-wide reduction whose result every thread receives (the shared slot is read after a barrier;
// the trailing barrier lets the caller reuse `tmp` for the next reduction).
template <class T, class Op>
__device__ T block_all_reduce(T v, Op op, typename cub::BlockReduce<T, kBlock>::TempStorage& tmp, T* slot) {
  const T r = cub::BlockReduce<T, kBlock>(tmp).Reduce(v, op);
  if (threadIdx.x == 0) *slot = r;
  __syncthreads();
  const T out = *slot;
  __syncthreads();
  return out;
}

template <class T>
__global__ void sum_rows_kernel(const T* __restrict__ x, T* __restrict__ y, long n) {
  __shared__ typename cub::BlockReduce<T, kBlock>::TempStorage tmp;
  const T* row = x + blockIdx.x * n;
  T acc = T(0);
  for (long k = threadIdx.x; k < n; k += kBlock) acc += row[k];
  const T r = cub::BlockReduce<T, kBlock>(tmp).Sum(acc);
  if (threadIdx.x == 0) y[blockIdx.x] = r;
}

template <class T>
__global__ void max_rows_kernel(const T* __restrict__ x, T* __restrict__ y, long n, bool is_min) {
  __shared__ typename cub::BlockReduce<T, kBlock>::TempStorage tmp;
  const T* row = x + blockIdx.x * n;
  T acc = extremum_identity<T>(is_min);
  for (long k = threadIdx.x; k < n; k += kBlock) acc = nan_extremum(acc, row[k], is_min);
  const T r = is_min ? cub::BlockReduce<T, kBlock>(tmp).Reduce(acc, NanMinOp{})
                     : cub::BlockReduce<T, kBlock>(tmp).Reduce(acc, NanMaxOp{});
  if (threadIdx.x == 0) y[blockIdx.x] = n == 0 ? ::cuda::std::numeric_limits<T>::quiet_NaN() : r;
}

// mode 0 = sum, 1 = max, 2 = min over x[0, n) read with stride `inc` (n >= 1).
template <class T>
__device__ T fold_range(const T* p, long n, long inc, int mode) {
  if (mode == 0) {
    T s = T(0);
    for (long k = 0; k < n; ++k) s += p[k * inc];
    return s;
  }
  T m = p[0];
  for (long k = 1; k < n; ++k) m = nan_extremum(m, p[k * inc], mode == 2);
  return m;
}

// One thread per output (o, i); mode 0 = sum, 1 = max, 2 = min (NaN over an empty axis).
template <class T>
__global__ void strided_reduce_kernel(const T* __restrict__ x, T* __restrict__ y, long outer, long n,
                                      long inner, int mode) {
  const long total = outer * inner;
  for (long j = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; j < total;
       j += static_cast<long>(gridDim.x) * blockDim.x) {
    const long o = j / inner, i = j - o * inner;
    y[j] = (mode != 0 && n == 0) ? ::cuda::std::numeric_limits<T>::quiet_NaN()
                                 : fold_range(x + o * n * inner + i, n, inner, mode);
  }
}

// Pass 1 of a split row reduction: block (o, c) folds chunk c (len samples) of row o into
// part[o * chunks + c]; every chunk is non-empty (the launcher picks chunks = ceil(n / len)).
template <class T>
__global__ void rows_partial_kernel(const T* __restrict__ x, T* __restrict__ part, long n, long chunks, long len,
                                    int mode) {
  __shared__ typename cub::BlockReduce<T, kBlock>::TempStorage tmp;
  const long o = blockIdx.x / chunks, c = blockIdx.x - o * chunks;
  const long k0 = c * len, k1 = k0 + len < n ? k0 + len : n;
  const T* row = x + o * n;
  T acc = mode == 0 ? T(0) : extremum_identity<T>(mode == 2);
  for (long k = k0 + threadIdx.x; k < k1; k += kBlock) acc = mode == 0 ? acc + row[k] : nan_extremum(acc, row[k], mode == 2);
  const T r = mode == 0 ? cub::BlockReduce<T, kBlock>(tmp).Sum(acc)
                        : (mode == 2 ? cub::BlockReduce<T, kBlock>(tmp).Reduce(acc, NanMinOp{})
                                     : cub::BlockReduce<T, kBlock>(tmp).Reduce(acc, NanMaxOp{}));
  if (threadIdx.x == 0) part[blockIdx.x] = r;
}

// Pass 1 of a split strided reduction: chunk c = blockIdx.y of the k axis for output j into
// part[c * total + j].
template <class T>
__global__ void strided_partial_kernel(const T* __restrict__ x, T* __restrict__ part, long outer, long n, long inner,
                                       long len, int mode) {
  const long total = outer * inner, c = blockIdx.y;
  const long k0 = c * len, cnt = (k0 + len < n ? k0 + len : n) - k0;
  for (long j = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; j < total;
       j += static_cast<long>(gridDim.x) * blockDim.x) {
    const long o = j / inner, i = j - o * inner;
    part[c * total + j] = fold_range(x + (o * n + k0) * inner + i, cnt, inner, mode);
  }
}

// The split of a reduced axis of n elements feeding `outputs` independent outputs over `lanes` threads
// each: chunks of len >= kMinChunk elements, enough of them for ~kWantThreads threads in flight.
struct Split {
  long chunks = 1, len = 0;
};
Split split_for(long outputs, long lanes, long n) {
  constexpr long kWantThreads = 1L << 17, kMinChunk = 2048, kMaxChunks = 1024;
  Split sp;
  sp.len = n;
  const long have = outputs * lanes;
  if (have >= kWantThreads || n < 2 * kMinChunk) return sp;
  long want = (kWantThreads + have - 1) / have;
  want = want < n / kMinChunk ? want : n / kMinChunk;
  want = want < kMaxChunks ? want : kMaxChunks;
  if (want < 2) return sp;
  sp.len = (n + want - 1) / want;
  sp.chunks = (n + sp.len - 1) / sp.len;  // every chunk non-empty
  return sp;
}

template <class T>
__global__ void softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ y, long n, bool log) {
  __shared__ typename cub::BlockReduce<T, kBlock>::TempStorage tmp;
  __shared__ T slot;
  const T* row = x + blockIdx.x * n;
  T* out = y + blockIdx.x * n;
  T m = extremum_identity<T>(false);
  for (long k = threadIdx.x; k < n; k += kBlock) m = nan_extremum(m, row[k], false);
  m = block_all_reduce(m, NanMaxOp{}, tmp, &slot);
  T s = T(0);
  for (long k = threadIdx.x; k < n; k += kBlock) s += exp(row[k] - m);
  s = block_all_reduce(s, SumOp{}, tmp, &slot);
  const T log_s = log ? std::log(s) : T(0), inv_s = T(1) / s;
  for (long k = threadIdx.x; k < n; k += kBlock) {
    const T d = row[k] - m;
    out[k] = log ? d - log_s : exp(d) * inv_s;
  }
}

template <class T>
__global__ void softmax_backward_rows_kernel(const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ gx,
                                             long n, bool log) {
  __shared__ typename cub::BlockReduce<T, kBlock>::TempStorage tmp;
  __shared__ T slot;
  const long base = blockIdx.x * n;
  T s = T(0);
  for (long k = threadIdx.x; k < n; k += kBlock) s += log ? gy[base + k] : gy[base + k] * y[base + k];
  s = block_all_reduce(s, SumOp{}, tmp, &slot);
  for (long k = threadIdx.x; k < n; k += kBlock) gx[base + k] = softmax_grad_element(y[base + k], gy[base + k], s, log);
}

// Two passes over the row (mean, then the centred sum of squares), as the CPU reference: the
// one-pass E[x^2] - E[x]^2 cancels catastrophically for rows with a large mean.
template <class T>
__global__ void layer_norm_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                  T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd, long n, T eps) {
  __shared__ typename cub::BlockReduce<T, kBlock>::TempStorage tmp;
  __shared__ T slot;
  const long base = blockIdx.x * n;
  T s = T(0);
  for (long k = threadIdx.x; k < n; k += kBlock) s += x[base + k];
  const T mu = block_all_reduce(s, SumOp{}, tmp, &slot) / static_cast<T>(n);
  T ss = T(0);
  for (long k = threadIdx.x; k < n; k += kBlock) ss += (x[base + k] - mu) * (x[base + k] - mu);
  ss = block_all_reduce(ss, SumOp{}, tmp, &slot);
  const T rs = T(1) / std::sqrt(ss / static_cast<T>(n) + eps);
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = mu;
    rstd[blockIdx.x] = rs;
  }
  for (long k = threadIdx.x; k < n; k += kBlock)
    y[base + k] = (x[base + k] - mu) * rs * (w ? w[k] : T(1)) + (b ? b[k] : T(0));
}

template <class T>
__global__ void layer_norm_backward_rows_kernel(const T* __restrict__ x, const T* __restrict__ mean,
                                                const T* __restrict__ rstd, const T* __restrict__ w,
                                                const T* __restrict__ gy, T* __restrict__ gx, long n) {
  __shared__ typename cub::BlockReduce<T, kBlock>::TempStorage tmp;
  __shared__ T slot;
  const long base = blockIdx.x * n;
  const T mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
  T sg = T(0), sgx = T(0);
  for (long k = threadIdx.x; k < n; k += kBlock) {
    const T g = gy[base + k] * (w ? w[k] : T(1));
    sg += g;
    sgx += g * (x[base + k] - mu) * rs;
  }
  sg = block_all_reduce(sg, SumOp{}, tmp, &slot);
  sgx = block_all_reduce(sgx, SumOp{}, tmp, &slot);
  const T inv_n = T(1) / static_cast<T>(n);
  for (long k = threadIdx.x; k < n; k += kBlock) {
    const T g = gy[base + k] * (w ? w[k] : T(1));
    gx[base + k] = layer_norm_grad_element(g, (x[base + k] - mu) * rs, rs, sg, sgx, inv_n);
  }
}

// gw[i] = sum_r gy xhat, gb[i] = sum_r gy: one thread per column, coalesced across columns.
template <class T>
__global__ void layer_norm_param_grad_kernel(const T* __restrict__ x, const T* __restrict__ mean,
                                             const T* __restrict__ rstd, const T* __restrict__ gy, T* __restrict__ gw,
                                             T* __restrict__ gb, long rows, long n) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    T sw = T(0), sb = T(0);
    for (long r = 0; r < rows; ++r) {
      const T g = gy[r * n + i];
      sw += g * (x[r * n + i] - mean[r]) * rstd[r];
      sb += g;
    }
    if (gw) gw[i] = sw;
    if (gb) gb[i] = sb;
  }
}

// The same over the rows [r0, r0 + len) of chunk c = blockIdx.y into pw/pb[c * n + i] (pass 1 of a split).
template <class T>
__global__ void layer_norm_param_partial_kernel(const T* __restrict__ x, const T* __restrict__ mean,
                                                const T* __restrict__ rstd, const T* __restrict__ gy,
                                                T* __restrict__ pw, T* __restrict__ pb, long rows, long n, long len) {
  const long r0 = blockIdx.y * len, r1 = r0 + len < rows ? r0 + len : rows;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    T sw = T(0), sb = T(0);
    for (long r = r0; r < r1; ++r) {
      const T g = gy[r * n + i];
      sw += g * (x[r * n + i] - mean[r]) * rstd[r];
      sb += g;
    }
    pw[blockIdx.y * n + i] = sw;
    pb[blockIdx.y * n + i] = sb;
  }
}

// CUDA grids hold up to 2^31 - 1 blocks in x: one per row is always enough for our tensors.
unsigned row_grid(long rows) { return static_cast<unsigned>(rows); }

// outer x n (inner 1) or outer x n x inner -> outer x inner, split when the outputs are too few.
template <class T>
void reduce_launch(const T* x, T* y, long outer, long n, long inner, int mode, cudaStream_t s, void* stream) {
  if (inner == 1) {
    const Split sp = split_for(outer, kBlock, n);
    auto rows = [&](const T* in, long cols) {
      if (mode == 0)
        sum_rows_kernel<T><<<row_grid(outer), kBlock, 0, s>>>(in, y, cols);
      else
        max_rows_kernel<T><<<row_grid(outer), kBlock, 0, s>>>(in, y, cols, mode == 2);
    };
    if (sp.chunks == 1) return rows(x, n);
    DeviceScratch<T> part(static_cast<size_t>(outer * sp.chunks), stream);
    rows_partial_kernel<T><<<row_grid(outer * sp.chunks), kBlock, 0, s>>>(x, part.p, n, sp.chunks, sp.len, mode);
    return rows(part.p, sp.chunks);
  }
  const long total = outer * inner;
  const Split sp = split_for(total, 1, n);
  if (sp.chunks == 1) {
    strided_reduce_kernel<T><<<grid_for(total, kBlock), kBlock, 0, s>>>(x, y, outer, n, inner, mode);
    return;
  }
  DeviceScratch<T> part(static_cast<size_t>(total * sp.chunks), stream);
  const dim3 grid(grid_for(total, kBlock), static_cast<unsigned>(sp.chunks));
  strided_partial_kernel<T><<<grid, kBlock, 0, s>>>(x, part.p, outer, n, inner, sp.len, mode);
  strided_reduce_kernel<T><<<grid_for(total, kBlock), kBlock, 0, s>>>(part.p, y, 1, sp.chunks, total, mode);
}

}  // namespace

template <class T>
void reduce_sum(const T* x, T* y, long outer, long n, long inner, void* stream) {
  if (outer * inner <= 0) return;
  reduce_launch(x, y, outer, n, inner, 0, as_stream(stream), stream);
  check_launch("reduce_sum");
}

template <class T>
void reduce_max(const T* x, T* y, long outer, long n, long inner, bool is_min, void* stream) {
  if (outer * inner <= 0) return;
  reduce_launch(x, y, outer, n, inner, is_min ? 2 : 1, as_stream(stream), stream);
  check_launch("reduce_max");
}

template <class T>
void softmax_rows(const T* x, T* y, long rows, long n, bool log, void* stream) {
  if (rows <= 0 || n <= 0) return;
  softmax_rows_kernel<T><<<row_grid(rows), kBlock, 0, as_stream(stream)>>>(x, y, n, log);
  check_launch("softmax_rows");
}

template <class T>
void softmax_backward_rows(const T* y, const T* gy, T* gx, long rows, long n, bool log, void* stream) {
  if (rows <= 0 || n <= 0) return;
  softmax_backward_rows_kernel<T><<<row_grid(rows), kBlock, 0, as_stream(stream)>>>(y, gy, gx, n, log);
  check_launch("softmax_backward_rows");
}

template <class T>
void layer_norm(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps,
                void* stream) {
  if (rows <= 0 || n <= 0) return;
  layer_norm_kernel<T><<<row_grid(rows), kBlock, 0, as_stream(stream)>>>(x, w, b, y, mean, rstd, n, eps);
  check_launch("layer_norm");
}

template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                         T* gb, long rows, long n, void* stream) {
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  if (rows > 0) {
    layer_norm_backward_rows_kernel<T><<<row_grid(rows), kBlock, 0, s>>>(x, mean, rstd, w, gy, gx, n);
    check_launch("layer_norm_backward");
  }
  if (gw || gb) {
    const Split sp = split_for(n, 1, rows);
    if (sp.chunks == 1) {
      layer_norm_param_grad_kernel<T><<<grid_for(n, kBlock), kBlock, 0, s>>>(x, mean, rstd, gy, gw, gb, rows, n);
    } else {  // few columns over many rows: chunks of rows, then the partials folded per column
      DeviceScratch<T> part(static_cast<size_t>(2 * n * sp.chunks), stream);
      T* pw = part.p;
      T* pb = part.p + n * sp.chunks;
      const dim3 grid(grid_for(n, kBlock), static_cast<unsigned>(sp.chunks));
      layer_norm_param_partial_kernel<T><<<grid, kBlock, 0, s>>>(x, mean, rstd, gy, pw, pb, rows, n, sp.len);
      if (gw) strided_reduce_kernel<T><<<grid_for(n, kBlock), kBlock, 0, s>>>(pw, gw, 1, sp.chunks, n, 0);
      if (gb) strided_reduce_kernel<T><<<grid_for(n, kBlock), kBlock, 0, s>>>(pb, gb, 1, sp.chunks, n, 0);
    }
    check_launch("layer_norm_param_grad");
  }
}

#define PG_REDUCE_INST(T)                                                                             \
  template void reduce_sum<T>(const T*, T*, long, long, long, void*);                                 \
  template void reduce_max<T>(const T*, T*, long, long, long, bool, void*);                           \
  template void softmax_rows<T>(const T*, T*, long, long, bool, void*);                               \
  template void softmax_backward_rows<T>(const T*, const T*, T*, long, long, bool, void*);            \
  template void layer_norm<T>(const T*, const T*, const T*, T*, T*, T*, long, long, T, void*);        \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, long, \
                                       long, void*);
PG_REDUCE_INST(float)
PG_REDUCE_INST(double)
#undef PG_REDUCE_INST

}  // namespace pianograd::kernels::cuda
