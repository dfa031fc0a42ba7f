// STFT magnitude, its adjoint and the spectral-loss terms on the GPU (semantics of kernels/cpu/stft.h
// and autodiff/ops/spectral.cpp; per-element math shared in kernels/common/stft_math.h).
//
// Forward: a framing kernel writes every windowed frame (reflect-padded, centred) of the batch into
// one [batch*frames, n_fft] buffer, one batched cuFFT R2C transform gives the half spectra, and a
// kernel takes |X|. Backward: the adjoint coefficients (stft_adjoint_coeff) go through one batched
// C2R transform (unnormalised, like the CPU's RealFFT::inverse), and the windowed frames are
// overlap-added into gx with atomicAdd (frames overlap; the order of the additions varies by run, so
// gx agrees with the CPU to rounding). Plans are cached per thread by (n_fft, transforms, type).
#include <cufft.h>

#include <cub/block/block_reduce.cuh>
#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "kernels/common/stft_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_scratch.cuh"
#include "kernels/cuda/cufft_plan.cuh"
#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void frame_kernel(const T* __restrict__ x, T* __restrict__ frames, long batch, long nf,
                             cpu::StftGeometry g) {
  const long total = batch * nf * g.n_fft;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    const long t = i % g.n_fft, bf = i / g.n_fft, b = bf / nf, f = bf % nf;
    frames[i] = stft_hann<T>(t, g.n_fft) * x[b * g.length + stft_source(f, t, g.hop, g.n_fft, g.length)];
  }
}

template <class T>
__global__ void magnitude_kernel(const T* __restrict__ spec, T* __restrict__ mag, long count) {
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    mag[i] = stft_mag(spec[2 * i], spec[2 * i + 1]);
}

template <class T>
__global__ void adjoint_coeff_kernel(const T* __restrict__ gmag, const T* __restrict__ spec,
                                     const T* __restrict__ gscale, T* __restrict__ y, long count, long bins) {
  const T s = gscale ? gscale[0] : T(1);
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    stft_adjoint_coeff(s * gmag[i], spec[2 * i], spec[2 * i + 1], i % bins, bins, y[2 * i], y[2 * i + 1]);
}

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }

template <class T>
__global__ void overlap_add_kernel(const T* __restrict__ frames, T* __restrict__ gx, long batch, long nf,
                                   cpu::StftGeometry g) {
  const long total = batch * nf * g.n_fft;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    const long t = i % g.n_fft, bf = i / g.n_fft, b = bf / nf, f = bf % nf;
    atomic_add(&gx[b * g.length + stft_source(f, t, g.hop, g.n_fft, g.length)], stft_hann<T>(t, g.n_fft) * frames[i]);
  }
}

// acc[0] += sum over bins of (lw |d| + gw |ld|) * inv_n, in double (the CPU sums in double too).
template <class T>
__global__ void __launch_bounds__(kBlock)
    spectral_terms_kernel(const T* __restrict__ mp, const T* __restrict__ mt, long count, T eps, T lw, T gw,
                          T* __restrict__ gp, T* __restrict__ gt, double* __restrict__ acc) {
  using Reduce = cub::BlockReduce<double, kBlock>;
  __shared__ typename Reduce::TempStorage tmp;
  const T inv_n = T(1) / static_cast<T>(count);
  double lin = 0.0, lg = 0.0;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    const SpectralTerm<T> r = spectral_l1_term(mp[i], mt[i], eps, inv_n, lw, gw);
    lin += fabs(static_cast<double>(r.d));
    lg += fabs(static_cast<double>(r.ld));
    if (gp) gp[i] = r.gp;
    if (gt) gt[i] = r.gt;
  }
  const double part = (static_cast<double>(lw) * lin + static_cast<double>(gw) * lg) / static_cast<double>(count);
  const double s = Reduce(tmp).Sum(part);
  if (threadIdx.x == 0) atomicAdd(acc, s);
}

template <class T>
__global__ void finish_kernel(const double* acc, T* y) { *y = static_cast<T>(*acc); }

long checked_transforms(long batch, const cpu::StftGeometry& g) {
  const long count = batch * g.frames();
  if (count > 0x7fffffffL || g.n_fft > 0x7fffffffL) throw std::invalid_argument("cuda stft: too many frames");
  return count;
}

}  // namespace

template <class T>
void stft_magnitude(const T* x, long batch, const cpu::StftGeometry& g, T* mag, T* spec, void* stream) {
  const long count = checked_transforms(batch, g);
  if (count <= 0) return;
  const cudaStream_t s = as_stream(stream);
  const long bins = g.bins();
  DeviceScratch<T> frames(static_cast<size_t>(count * g.n_fft), stream);
  DeviceScratch<T> own(spec ? 0 : static_cast<size_t>(2 * count * bins), stream);
  T* sp = spec ? spec : own.p;
  frame_kernel<T><<<grid_for(count * g.n_fft, kBlock), kBlock, 0, s>>>(x, frames.p, batch, g.frames(), g);
  check_launch("stft frame_kernel");
  exec_r2c(fft_plan_for(g.n_fft, count, r2c_type<T>()).bind(s).handle, frames.p, sp);
  magnitude_kernel<T><<<grid_for(count * bins, kBlock), kBlock, 0, s>>>(sp, mag, count * bins);
  check_launch("stft magnitude_kernel");
}

template <class T>
void stft_magnitude_backward(const T* gmag, const T* spec, long batch, const cpu::StftGeometry& g, T* gx,
                             const T* gscale, void* stream) {
  const long count = checked_transforms(batch, g);
  if (count <= 0) return;
  const cudaStream_t s = as_stream(stream);
  const long bins = g.bins();
  DeviceScratch<T> coeff(static_cast<size_t>(2 * count * bins), stream);
  DeviceScratch<T> frames(static_cast<size_t>(count * g.n_fft), stream);
  adjoint_coeff_kernel<T><<<grid_for(count * bins, kBlock), kBlock, 0, s>>>(gmag, spec, gscale, coeff.p, count * bins,
                                                                            bins);
  check_launch("stft adjoint_coeff_kernel");
  // C2R overwrites its input: coeff is scratch.
  exec_c2r(fft_plan_for(g.n_fft, count, c2r_type<T>()).bind(s).handle, coeff.p, frames.p);
  overlap_add_kernel<T><<<grid_for(count * g.n_fft, kBlock), kBlock, 0, s>>>(frames.p, gx, batch, g.frames(), g);
  check_launch("stft overlap_add_kernel");
}

template <class T>
void spectral_l1_terms(const T* mp, const T* mt, long count, T eps, T linear_weight, T log_weight, T* gp, T* gt,
                       double* acc, void* stream) {
  if (count <= 0) return;
  const unsigned blocks = std::min<unsigned>(grid_for(count, kBlock), 1024u);
  spectral_terms_kernel<T><<<blocks, kBlock, 0, as_stream(stream)>>>(mp, mt, count, eps, linear_weight, log_weight,
                                                                      gp, gt, acc);
  check_launch("spectral_terms_kernel");
}

template <class T>
void spectral_loss_finish(const double* acc, T* y, void* stream) {
  finish_kernel<T><<<1, 1, 0, as_stream(stream)>>>(acc, y);
  check_launch("spectral finish_kernel");
}

#define PG_CUDA_STFT_INST(T)                                                                             \
  template void stft_magnitude<T>(const T*, long, const cpu::StftGeometry&, T*, T*, void*);             \
  template void stft_magnitude_backward<T>(const T*, const T*, long, const cpu::StftGeometry&, T*, const T*, \
                                           void*);                                                       \
  template void spectral_l1_terms<T>(const T*, const T*, long, T, T, T, T*, T*, double*, void*);          \
  template void spectral_loss_finish<T>(const double*, T*, void*);
PG_CUDA_STFT_INST(float)
PG_CUDA_STFT_INST(double)
#undef PG_CUDA_STFT_INST

}  // namespace pianograd::kernels::cuda
