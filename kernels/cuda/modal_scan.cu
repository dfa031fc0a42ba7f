// The modal bank forward as a parallel scan over time (issue 6; semantics in kernels/cpu/modal.h,
// the scan algebra in kernels/common/scan_math.h).
//
// A CPU core runs a mode as a sequential recurrence, one sample after another. A GPU would leave
// most of itself idle doing that per mode (a bank has tens to thousands of modes; a buffer has
// 10^4-10^5 samples), so each mode gets a thread block that scans its samples: the recurrence
// z[n] = a[n] z[n-1] + b[n] is the inclusive prefix of the affine maps (a[n], b[n]) under
// composition, and CUB's BlockScan computes the prefix of a tile of kTile samples in O(log) steps.
// Tiles are processed in order; a running-prefix callback (CUB's BlockPrefixCallbackOp) carries
// the composition of all earlier tiles into the next, so a mode of any length costs one pass.
//
// Im z[n] of every mode is summed into y with atomicAdd (modes are independent blocks writing the
// same samples). Differences from cpu::modal_forward, by design:
//  * no truncation (rel_threshold = 0): every mode runs to the end of the buffer;
//  * the prefix is a different association of the same products than the sequential loop, and the
//    atomic sum over modes has no fixed order, so results agree with the CPU to rounding only.
#include <cub/block/block_scan.cuh>

#include "kernels/common/modal_math.h"
#include "kernels/common/scan_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kItems = 8;  // samples per thread per tile, consecutive (CUB's "blocked" arrangement)
constexpr long kTile = static_cast<long>(kThreads) * kItems;

// The composition of every earlier tile. CUB calls it from the first warp with the aggregate of the
// tile just scanned; lane 0's return value is the prefix that tile's outputs are composed with.
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
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }  // native on sm_60+

template <class T>
__global__ void __launch_bounds__(kThreads)
    modal_scan_kernel(ModalBankDev<T> bank, const T* __restrict__ gate, long n_all, T* __restrict__ y_all) {
  using Scan = cub::BlockScan<Affine<T>, kThreads>;
  __shared__ typename Scan::TempStorage tmp;

  const long m = blockIdx.x;
  const long start = static_cast<long>(bank.start[m]);
  // Packed layout (cuda_kernels.h): this mode's window is y_all[base, base + len); else all of y.
  const long n = bank.len ? static_cast<long>(bank.len[m]) : n_all;
  T* __restrict__ y = y_all + (bank.base ? static_cast<long>(bank.base[m]) : 0L);
  const T amp = bank.amp[m];
  if (start >= n || amp == T(0)) return;  // silent mode (the CPU skips amp == 0 too)
  T wr, wi, z0r, z0i, ur, ui;
  modal_pole(bank.sigma[m], bank.omega[m], wr, wi);
  modal_initial(amp, bank.sigma[m], bank.omega[m], bank.delta[m], z0r, z0i, ur, ui);
  const T g = bank.dgain[m];
  const int row = bank.env[m];
  // Row sample t is gate[goff + t] (kept as an index: a packed row's origin may lie before its storage).
  const T* gate_row = row < 0 ? nullptr : gate;
  const long goff = row < 0 ? 0L : (bank.gate_off ? static_cast<long>(bank.gate_off[row]) : static_cast<long>(row) * n_all);

  RunningPrefix<T> prefix{affine_identity<T>()};
  // Start at the tile holding `start`: earlier samples are identities and contribute nothing.
  for (long base = start / kTile * kTile; base < n; base += kTile) {
    Affine<T> e[kItems];
    const long first = base + static_cast<long>(threadIdx.x) * kItems;
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const long t = first + j;
      // Past the end: identity, so the tile aggregate (and nothing else) is unaffected.
      const T d = (gate_row && t < n && t > start) ? gate_row[goff + t] : T(0);
      e[j] = t < n ? modal_scan_element(t, start, wr, wi, g, d, z0r, z0i) : affine_identity<T>();
    }
    Scan(tmp).InclusiveScan(e, e, AffineComposeOp{}, prefix);
    __syncthreads();  // tmp is reused by the next tile's scan
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const long t = first + j;
      // The prefix maps z[-1] = 0 to z[t], so z[t] is its b part.
      if (t >= start && t < n) atomic_add(&y[t], e[j].bi);
    }
  }
}

}  // namespace

template <class T>
void modal_forward(const ModalBankDev<T>& bank, const T* gate, long rows, long n, T* y, void* stream) {
  if (n <= 0) return;
  const cudaStream_t s = as_stream(stream);
  check(cudaMemsetAsync(y, 0, sizeof(T) * static_cast<size_t>(n), s), "modal_forward: clear y");
  if (bank.count <= 0) return;
  (void)rows;  // the env rows index gate directly; validated by the caller
  modal_scan_kernel<T><<<static_cast<unsigned>(bank.count), kThreads, 0, s>>>(bank, gate, n, y);
  check_launch("modal_scan_kernel");
}

template void modal_forward<float>(const ModalBankDev<float>&, const float*, long, long, float*, void*);
template void modal_forward<double>(const ModalBankDev<double>&, const double*, long, long, double*, void*);

}  // namespace pianograd::kernels::cuda
