// The modal bank's backward as a reverse parallel scan (issue 6; semantics of cpu::ref::modal_backward
// without truncation, scan algebra in kernels/common/scan_math.h, proven on the CPU in
// tests/kernels/test_scan_math_adjoint.cpp).
//
// The adjoint a[t] = conj(w_{t+1}) a[t+1] + i gy[t] is an affine recurrence backward in time, so a
// block scans it tile by tile from the buffer's end, with a running prefix carrying the composition of
// the later tiles (modal_scan.cu does the same forward). The gradient sums need z[t] beside a[t]:
//  1. a forward pass (the forward kernel's scan) stores z at the end of every tile of kTile samples
//     in a scratch array (M x ceil(N / kTile) complex values: 1/1024 of storing every state);
//  2. the backward visits tiles last to first; per tile it recomputes z by a forward scan seeded with
//     the previous tile's end state (the constant map t -> z_prev composes like any element), parks
//     it in shared memory (the reverse scan holds samples in the mirrored thread order), scans the
//     adjoint, and accumulates q, qd (modal_adjoint_accumulate) and the gate gradient.
// One block per mode; the per-mode gradients close with modal_param_grads after a block reduction.
// The gate gradient of modes sharing an envelope row is summed with atomicAdd (order varies by run).
#include <algorithm>
#include <stdexcept>
#include <string>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "kernels/common/modal_math.h"
#include "kernels/common/scan_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kItems = 8;
constexpr long kTile = static_cast<long>(kThreads) * kItems;

// Shared-memory slot of the tile's sample offset k. Thread tid touches k = tid * kItems + j (and the
// mirrored 1023 - k): unpadded, a warp's 32 accesses for one j would fall on 32 / kItems banks
// (an 8-way conflict per array). One pad word per 32 spreads them over all 32 banks.
__device__ __forceinline__ long zslot(long k) { return k + k / 32; }
constexpr long kZSlots = kTile + kTile / 32;

template <class T>
struct RunningPrefix {
  Affine<T> running;
  __device__ Affine<T> operator()(const Affine<T>& tile_aggregate) {
    const Affine<T> before = running;
    running = affine_compose(running, tile_aggregate);
    return before;
  }
};

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }

template <class T>
__global__ void __launch_bounds__(kThreads)
    modal_backward_kernel(ModalBankDev<T> bank, const T* __restrict__ gate, long n_all, const T* __restrict__ gy_all,
                          ModalGradsDev<T> gr, T* __restrict__ ckpt, long tiles) {
  using Scan = cub::BlockScan<Affine<T>, kThreads>;
  using Reduce = cub::BlockReduce<T, kThreads>;
  __shared__ union {
    typename Scan::TempStorage scan;
    typename Reduce::TempStorage reduce;
  } tmp;
  __shared__ T zs_re[kZSlots], zs_im[kZSlots];  // z of the current tile, at zslot(sample offset)
  __shared__ T a_start[2];

  const long m = blockIdx.x;
  const long start = static_cast<long>(bank.start[m]);
  // Packed layout (cuda_kernels.h): this mode's window is [base, base + len) of gy; else all of it.
  const long n = bank.len ? static_cast<long>(bank.len[m]) : n_all;
  const T* __restrict__ gy = gy_all + (bank.base ? static_cast<long>(bank.base[m]) : 0L);
  const T amp = bank.amp[m];
  if (start >= n || amp == T(0)) {  // silent mode: every gradient 0 (cpu::ref does the same)
    if (threadIdx.x == 0) {
      if (gr.omega) gr.omega[m] = T(0);
      if (gr.sigma) gr.sigma[m] = T(0);
      if (gr.dgain) gr.dgain[m] = T(0);
      if (gr.amp) gr.amp[m] = T(0);
      if (gr.delta) gr.delta[m] = T(0);
    }
    return;
  }
  const T sigma = bank.sigma[m], omega = bank.omega[m], delta = bank.delta[m], g = bank.dgain[m];
  T wr, wi, z0r, z0i, ur, ui;
  modal_pole(sigma, omega, wr, wi);
  modal_initial(amp, sigma, omega, delta, z0r, z0i, ur, ui);
  const int row = bank.env[m];
  // Row sample t is gate[goff + t] (an index: a packed row's origin may lie before its storage). Only
  // t > start is read: the elements at t < start are identities and t == start uses no gate, so the
  // guard changes no result and lets packed rows start at their modes' start.
  const T* gate_row = row < 0 ? nullptr : gate;
  T* gate_grad = (row < 0 || gr.gate == nullptr) ? nullptr : gr.gate;
  const long goff = row < 0 ? 0L : (bank.gate_off ? static_cast<long>(bank.gate_off[row]) : static_cast<long>(row) * n_all);
  auto d_at = [&](long t) { return (gate_row && t > start && t < n) ? gate_row[goff + t] : T(0); };

  const long first_tile = start / kTile, last_tile = (n - 1) / kTile;
  T* ck = ckpt + 2 * m * tiles;  // ck[2k], ck[2k+1]: z at the end of tile first_tile + k
  const long tid = threadIdx.x;

  // Forward tile states from the start tile z[start-1] = 0, same elements as modal_scan.cu.
  auto forward_tile = [&](long base, Affine<T> seed, Affine<T> (&e)[kItems]) {
    RunningPrefix<T> prefix{seed};
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const long t = base + tid * kItems + j;
      const T d = t > start ? d_at(t) : T(0);
      e[j] = t < n ? modal_scan_element(t, start, wr, wi, g, d, z0r, z0i) : affine_identity<T>();
    }
    Scan(tmp.scan).InclusiveScan(e, e, AffineComposeOp{}, prefix);
    __syncthreads();
  };
  for (long k = first_tile; k <= last_tile; ++k) {
    Affine<T> e[kItems];
    const Affine<T> seed = k == first_tile ? affine_identity<T>()
                                           : Affine<T>{T(0), T(0), ck[2 * (k - 1 - first_tile)],
                                                       ck[2 * (k - 1 - first_tile) + 1]};
    // Seeding each tile with the stored state instead of carrying the prefix keeps phase 2's
    // recomputation bit-identical to this pass.
    forward_tile(k * kTile, seed, e);
    if (tid == kThreads - 1) {  // past n the elements are identities, so this is z[min(end, n) - 1]
      ck[2 * (k - first_tile)] = e[kItems - 1].br;
      ck[2 * (k - first_tile) + 1] = e[kItems - 1].bi;
    }
    __syncthreads();  // the next tile reads ck
  }

  RunningPrefix<T> adj{affine_identity<T>()};
  AdjointSums<T> q{T(0), T(0), T(0)};
  for (long k = last_tile; k >= first_tile; --k) {
    const long base = k * kTile;
    {
      Affine<T> e[kItems];
      const Affine<T> seed = k == first_tile ? affine_identity<T>()
                                             : Affine<T>{T(0), T(0), ck[2 * (k - 1 - first_tile)],
                                                         ck[2 * (k - 1 - first_tile) + 1]};
      forward_tile(base, seed, e);
#pragma unroll
      for (int j = 0; j < kItems; ++j) {
        zs_re[zslot(tid * kItems + j)] = e[j].br;
        zs_im[zslot(tid * kItems + j)] = e[j].bi;
      }
    }
    // Reverse order inside the tile: thread tid's item j is sample base + kTile - 1 - (tid*kItems + j).
    Affine<T> a[kItems];
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const long t = base + kTile - 1 - (tid * kItems + j);
      a[j] = modal_adjoint_element(t, start, n, wr, wi, g, d_at(t + 1), t < n && t >= 0 ? gy[t] : T(0));
    }
    Scan(tmp.scan).InclusiveScan(a, a, AffineComposeOp{}, adj);
    __syncthreads();  // zs_* written by every thread; tmp reused next
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const long off = kTile - 1 - (tid * kItems + j);
      const long t = base + off;
      if (t < start || t >= n) continue;
      if (t == start) {
        a_start[0] = a[j].br;
        a_start[1] = a[j].bi;
        continue;
      }
      const T rq = modal_adjoint_accumulate(a[j].br, a[j].bi, zs_re[zslot(off)], zs_im[zslot(off)], d_at(t), q);
      if (gate_grad) atomic_add(&gate_grad[goff + t], -g * rq);
    }
    __syncthreads();  // zs_* are overwritten by the next tile
  }

  const T qr = Reduce(tmp.reduce).Sum(q.qr);
  __syncthreads();
  const T qi = Reduce(tmp.reduce).Sum(q.qi);
  __syncthreads();
  const T qd = Reduce(tmp.reduce).Sum(q.qd);
  if (tid == 0) {  // a_start was written before the last __syncthreads of the tile loop
    const ModalParamGrad<T> pg =
        modal_param_grads(qr, qi, qd, a_start[0], a_start[1], z0r, z0i, ur, ui, sigma, omega, delta);
    if (gr.omega) gr.omega[m] = pg.omega;
    if (gr.sigma) gr.sigma[m] = pg.sigma;
    if (gr.dgain) gr.dgain[m] = pg.dgain;
    if (gr.amp) gr.amp[m] = pg.amp;
    if (gr.delta) gr.delta[m] = pg.delta;
  }
}

}  // namespace

template <class T>
void modal_backward(const ModalBankDev<T>& bank, const T* gate, long rows, long n, const T* gy,
                    const ModalGradsDev<T>& grads, void* stream) {
  const cudaStream_t s = as_stream(stream);
  const bool packed = bank.len != nullptr;
  const long gate_elems = packed ? bank.gate_size : rows * n;
  if (grads.gate && gate_elems > 0 && n > 0)
    check(cudaMemsetAsync(grads.gate, 0, sizeof(T) * static_cast<size_t>(gate_elems), s), "modal_backward: clear gate");
  if (bank.count <= 0) return;
  if (n <= 0) {  // no samples: every per-mode gradient is 0
    T* const outs[] = {grads.omega, grads.sigma, grads.dgain, grads.amp, grads.delta};
    for (T* p : outs)
      if (p) check(cudaMemsetAsync(p, 0, sizeof(T) * static_cast<size_t>(bank.count), s), "modal_backward: clear");
    return;
  }
  // The checkpoint scratch is sized by the longest window: a short max_len would let modes write into
  // each other's slots, so a packed bank without it is refused rather than trusted.
  if (packed && (bank.max_len < 1 || bank.max_len > n))
    throw std::invalid_argument("modal_backward: packed bank needs 1 <= max_len <= n, got max_len " +
                                std::to_string(bank.max_len) + ", n " + std::to_string(n));
  const long span = packed ? bank.max_len : n;  // the longest window a mode scans
  const long tiles = std::max(1L, (span + kTile - 1) / kTile);
  const int dev = current_device();
  const size_t bytes = sizeof(T) * 2 * static_cast<size_t>(bank.count) * static_cast<size_t>(tiles);
  // Stream-ordered cached memory: freeing right after the launch is safe, the block is reused only
  // by later work on the same stream.
  T* ckpt = static_cast<T*>(cached_alloc(bytes, dev, stream));
  modal_backward_kernel<T><<<static_cast<unsigned>(bank.count), kThreads, 0, s>>>(bank, gate, n, gy, grads, ckpt,
                                                                                   tiles);
  const cudaError_t e = cudaGetLastError();
  cached_free(ckpt, dev);
  check(e, "modal_backward_kernel");
}

template void modal_backward<float>(const ModalBankDev<float>&, const float*, long, long, const float*,
                                    const ModalGradsDev<float>&, void*);
template void modal_backward<double>(const ModalBankDev<double>&, const double*, long, long, const double*,
                                     const ModalGradsDev<double>&, void*);

}  // namespace pianograd::kernels::cuda
