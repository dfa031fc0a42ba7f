// Linear convolution by zero-padded FFT on the GPU (cuFFT), the device side of
// autodiff/ops/fft_convolve.cpp (CPU: kernels/cpu/fft.h fft_convolve_window). One call convolves a
// batch of signals with one shared or per-row second operand and extracts a window of the result:
//   pack (zero pad, optional time reversal) -> batched R2C of both -> complex product (scaled 1/n,
//   cuFFT's inverse is unnormalised) -> batched C2R -> window extraction (optionally reversed, or
//   summed over the batch).
// The forward and both VJPs of fft_convolve are such calls, so the op needs no other kernel. The FFT
// size is the next power of two >= x_len + h_len - 1 (cuFFT's fastest radix); plans are cached per
// thread like kernels/cuda/stft.cu's.
#include <cufft.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_scratch.cuh"
#include "kernels/cuda/cufft_plan.cuh"
#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

// out[r][t] = src[r][reverse ? len-1-t : t] for t < len, 0 for len <= t < n.
template <class T>
__global__ void pack_kernel(const T* __restrict__ src, long len, bool reverse, long n, long rows, T* __restrict__ out) {
  const long total = rows * n;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    const long r = i / n, t = i % n;
    out[i] = t < len ? src[r * len + (reverse ? len - 1 - t : t)] : T(0);
  }
}

// A[r] *= B[per_row ? r : 0] * scale over the half spectra (interleaved re, im).
template <class T>
__global__ void product_kernel(T* __restrict__ a, const T* __restrict__ b, long bins, long rows, bool per_row,
                               T scale) {
  const long total = rows * bins;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    const long k = i % bins, r = i / bins;
    const long j = (per_row ? r * bins : 0) + k;
    const T ar = a[2 * i], ai = a[2 * i + 1], br = b[2 * j], bi = b[2 * j + 1];
    a[2 * i] = (ar * br - ai * bi) * scale;
    a[2 * i + 1] = (ar * bi + ai * br) * scale;
  }
}

// y[r][i] = c[r][start + (reverse ? count-1-i : i)], or with sum_rows y[i] += sum_r c[r][start + i]
// (one writer per output element: the batch sum is a loop, not atomics, so it is deterministic).
template <class T>
__global__ void extract_kernel(const T* __restrict__ c, long n, long rows, long start, long count, bool reverse,
                               bool sum_rows, T* __restrict__ y) {
  const long total = sum_rows ? count : rows * count;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    if (sum_rows) {
      T acc = T(0);
      for (long r = 0; r < rows; ++r) acc += c[r * n + start + i];
      y[i] += acc;
    } else {
      const long r = i / count, k = i % count;
      y[i] = c[r * n + start + (reverse ? count - 1 - k : k)];
    }
  }
}

long fft_size(long len) {
  long n = 2;
  while (n < len) n *= 2;
  return n;
}

}  // namespace

template <class T>
void fft_convolve(const T* x, const T* h, T* y, const FftConvGeom& g, void* stream) {
  if (g.batch <= 0 || g.count <= 0) return;
  if (g.x_len < 1 || g.h_len < 1 || g.start < 0 || g.start + g.count > g.x_len + g.h_len - 1)
    throw std::invalid_argument("cuda fft_convolve: window [" + std::to_string(g.start) + ", " +
                                std::to_string(g.start + g.count) + ") outside the full convolution of lengths " +
                                std::to_string(g.x_len) + " and " + std::to_string(g.h_len));
  const long n = fft_size(g.x_len + g.h_len - 1), bins = n / 2 + 1;
  const long hrows = g.h_per_row ? g.batch : 1;
  if (g.batch > 0x7fffffffL || n > 0x7fffffffL) throw std::invalid_argument("cuda fft_convolve: too large");
  const cudaStream_t s = as_stream(stream);
  DeviceScratch<T> xa(static_cast<size_t>(g.batch * n), stream), ha(static_cast<size_t>(hrows * n), stream);
  // Half spectra as interleaved (re, im) pairs.
  DeviceScratch<T> xf(static_cast<size_t>(2 * g.batch * bins), stream);
  DeviceScratch<T> hf(static_cast<size_t>(2 * hrows * bins), stream);
  T* xr = xa.p;
  T* hr = ha.p;
  pack_kernel<T><<<grid_for(g.batch * n, kBlock), kBlock, 0, s>>>(x, g.x_len, g.x_reverse, n, g.batch, xr);
  check_launch("fft_convolve pack x");
  pack_kernel<T><<<grid_for(hrows * n, kBlock), kBlock, 0, s>>>(h, g.h_len, false, n, hrows, hr);
  check_launch("fft_convolve pack h");
  exec_r2c(fft_plan_for(n, g.batch, r2c_type<T>()).bind(s).handle, xr, xf.p);
  exec_r2c(fft_plan_for(n, hrows, r2c_type<T>()).bind(s).handle, hr, hf.p);
  product_kernel<T><<<grid_for(g.batch * bins, kBlock), kBlock, 0, s>>>(
      xf.p, hf.p, bins, g.batch, g.h_per_row, T(1) / static_cast<T>(n));
  check_launch("fft_convolve product");
  exec_c2r(fft_plan_for(n, g.batch, c2r_type<T>()).bind(s).handle, xf.p, xr);
  const long total = g.sum_rows ? g.count : g.batch * g.count;
  extract_kernel<T><<<grid_for(total, kBlock), kBlock, 0, s>>>(xr, n, g.batch, g.start, g.count, g.y_reverse,
                                                               g.sum_rows, y);
  check_launch("fft_convolve extract");
}

template void fft_convolve<float>(const float*, const float*, float*, const FftConvGeom&, void*);
template void fft_convolve<double>(const double*, const double*, double*, const FftConvGeom&, void*);

}  // namespace pianograd::kernels::cuda
