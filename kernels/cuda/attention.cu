// The fused attention on CUDA: FlashAttention-2's forward and backward (Dao 2023) as straightforward
// shared-memory tiled kernels, with the per-element math of kernels/common/attention_math.h (the CPU
// kernels' masking, online softmax and dS = P (dP - D)).
//
// Forward: a block of kRows warps takes kRows query rows (one per warp) of one head and walks the keys
// they see in tiles of 32, the tile's K and V staged in shared memory; lane jj scores key j0 + jj,
// the warp reduces the tile's max and sum with shuffles (online softmax), and lane c accumulates
// output dims c, c + 32, ... in registers (d <= kAttnCudaMaxHeadDim). Saves the row logsumexp.
// Backward: D_i = <dout_i, out_i> first (one thread per row); then one warp per tile of 32 keys walks
// every query row that sees the tile: lane jj recomputes P_ij and dS_ij for its key and accumulates
// dK and dV rows in shared memory (each lane its own row: no atomics), while dq_i gets the tile's
// share sum_j dS_ij k_j by an atomicAdd per element.
#include <algorithm>

#include "kernels/common/attention_math.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_scratch.cuh"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRows = 4;                                      // forward: query rows (warps) per block
constexpr int kPerLane = static_cast<int>(kAttnCudaMaxHeadDim / kWarp);  // output dims per lane
constexpr long kMaxGridY = 65535;                             // heads per launch
constexpr unsigned kFull = 0xffffffffu;

template <class T>
__device__ T warp_max(T v) {
  for (int o = kWarp / 2; o > 0; o /= 2) {
    const T w = __shfl_xor_sync(kFull, v, o);
    v = w > v ? w : v;
  }
  return v;
}

template <class T>
__device__ T warp_sum(T v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

template <class T>
__global__ void attn_forward_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                    T* __restrict__ o, T* __restrict__ lse, long head0, long tq, long tk, int d,
                                    bool causal, T scale) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* ks = reinterpret_cast<T*>(smem_raw);  // [32][d + 1]: the padding keeps lane-per-key reads conflict-free
  T* vs = ks + kWarp * (d + 1);            // [32][d]
  T* qs = vs + kWarp * d;                  // [kRows][d]
  const long h = head0 + blockIdx.y;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const long row0 = static_cast<long>(blockIdx.x) * kRows, i = row0 + warp;
  const bool active = i < tq;
  const T* kh = k + h * tk * d;
  const T* vh = v + h * tk * d;
  if (active)
    for (int dd = lane; dd < d; dd += kWarp) qs[warp * d + dd] = q[(h * tq + i) * d + dd];
  // The block stages the keys its last row sees; each warp uses those its own row sees.
  const long kend = attn_key_limit(min(tq - 1, row0 + kRows - 1), tq, tk, causal);
  const long lim = active ? attn_key_limit(i, tq, tk, causal) : 0;
  OnlineSoftmax<T> st = online_softmax_init<T>();
  T acc[kPerLane];
  for (int c = 0; c < kPerLane; ++c) acc[c] = T(0);
  for (long j0 = 0; j0 < kend; j0 += kWarp) {
    __syncthreads();  // the previous tile is consumed (and qs is written before the first use)
    for (int e = threadIdx.x; e < kWarp * d; e += blockDim.x) {
      const int jj = e / d, dd = e % d;
      const long j = j0 + jj;
      ks[jj * (d + 1) + dd] = j < tk ? kh[j * d + dd] : T(0);
      vs[jj * d + dd] = j < tk ? vh[j * d + dd] : T(0);
    }
    __syncthreads();
    if (j0 >= lim) continue;  // uniform over the warp: the tile is in this row's future
    const bool visible = j0 + lane < lim;
    T s = -INFINITY;
    if (visible) {
      T dot = 0;
      for (int dd = 0; dd < d; ++dd) dot += qs[warp * d + dd] * ks[lane * (d + 1) + dd];
      s = scale * dot;
    }
    const T alpha = st.rescale(warp_max(s));  // key j0 is visible: the max is finite
    const T p = attn_prob(s, st.m, visible);
    st.add(warp_sum(p));
    for (int c = 0; c < kPerLane; ++c) acc[c] *= alpha;
    for (int jj = 0; jj < kWarp; ++jj) {
      const T pj = __shfl_sync(kFull, p, jj);
      for (int c = 0; c < kPerLane; ++c) {
        const int dd = lane + c * kWarp;
        if (dd < d) acc[c] += pj * vs[jj * d + dd];
      }
    }
  }
  if (!active) return;
  const T inv = T(1) / st.l;
  for (int c = 0; c < kPerLane; ++c) {
    const int dd = lane + c * kWarp;
    if (dd < d) o[(h * tq + i) * d + dd] = acc[c] * inv;
  }
  if (lane == 0) lse[h * tq + i] = st.lse();
}

// D_i = <dout_i, out_i> for every row of every head.
template <class T>
__global__ void attn_dsum_kernel(const T* __restrict__ o, const T* __restrict__ dout, T* __restrict__ dsum, long rows,
                                 int d) {
  for (long r = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<long>(gridDim.x) * blockDim.x) {
    T s = 0;
    for (int dd = 0; dd < d; ++dd) s += dout[r * d + dd] * o[r * d + dd];
    dsum[r] = s;
  }
}

template <class T>
__global__ void attn_backward_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                     const T* __restrict__ lse, const T* __restrict__ dout, const T* __restrict__ dsum,
                                     T* __restrict__ dq, T* __restrict__ dk, T* __restrict__ dv, long head0, long tq,
                                     long tk, int d, bool causal, T scale) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int ld = d + 1;                    // padded rows: lane jj reads row jj, conflict-free
  T* ks = reinterpret_cast<T*>(smem_raw);  // [32][ld] each
  T* vs = ks + kWarp * ld;
  T* dks = vs + kWarp * ld;
  T* dvs = dks + kWarp * ld;
  T* qrow = dvs + kWarp * ld;  // [d]
  T* dorow = qrow + d;         // [d]
  const long h = head0 + blockIdx.y, j0 = static_cast<long>(blockIdx.x) * kWarp;
  const int lane = threadIdx.x;
  const T* kh = k + h * tk * d;
  const T* vh = v + h * tk * d;
  for (int e = lane; e < kWarp * d; e += kWarp) {
    const int jj = e / d, dd = e % d;
    const long j = j0 + jj;
    ks[jj * ld + dd] = j < tk ? kh[j * d + dd] : T(0);
    vs[jj * ld + dd] = j < tk ? vh[j * d + dd] : T(0);
    dks[jj * ld + dd] = T(0);
    dvs[jj * ld + dd] = T(0);
  }
  __syncwarp();
  const long j = j0 + lane;
  for (long i = attn_first_row(j0, tq, tk, causal); i < tq; ++i) {
    const long row = h * tq + i;
    for (int dd = lane; dd < d; dd += kWarp) {
      qrow[dd] = q[row * d + dd];
      dorow[dd] = dout[row * d + dd];
    }
    __syncwarp();
    T s = 0, dp = 0;
    for (int dd = 0; dd < d; ++dd) {
      s += qrow[dd] * ks[lane * ld + dd];
      dp += dorow[dd] * vs[lane * ld + dd];
    }
    const T p = attn_prob(scale * s, lse[row], j < attn_key_limit(i, tq, tk, causal));
    const T ds = attn_dscore(p, dp, dsum[row]);
    for (int dd = 0; dd < d; ++dd) {
      dvs[lane * ld + dd] += p * dorow[dd];
      dks[lane * ld + dd] += ds * qrow[dd];
    }
    T acc[kPerLane];
    for (int c = 0; c < kPerLane; ++c) acc[c] = T(0);
    for (int jj = 0; jj < kWarp; ++jj) {
      const T dsj = __shfl_sync(kFull, ds, jj);
      for (int c = 0; c < kPerLane; ++c) {
        const int dd = lane + c * kWarp;
        if (dd < d) acc[c] += dsj * ks[jj * ld + dd];
      }
    }
    for (int c = 0; c < kPerLane; ++c) {
      const int dd = lane + c * kWarp;
      if (dd < d) atomicAdd(dq + row * d + dd, scale * acc[c]);
    }
    __syncwarp();  // qrow / dorow are rewritten next
  }
  __syncwarp();  // every lane's dK / dV rows are complete
  for (int e = lane; e < kWarp * d; e += kWarp) {
    const int jj = e / d, dd = e % d;
    const long jk = j0 + jj;
    if (jk < tk) {
      dk[(h * tk + jk) * d + dd] = scale * dks[jj * ld + dd];
      dv[(h * tk + jk) * d + dd] = dvs[jj * ld + dd];
    }
  }
}

// Dynamic shared memory above the default 48 KiB must be opted into per kernel.
template <class K>
void allow_smem(K kernel, size_t bytes, const char* what) {
  if (bytes > 48 * 1024)
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), what);
}

void check_dims(long tk, long d) {
  if (tk < 1 || d < 1 || d > kAttnCudaMaxHeadDim)
    throw std::invalid_argument("attention (CUDA): needs tk >= 1 and 1 <= d <= " + std::to_string(kAttnCudaMaxHeadDim));
}

}  // namespace

template <class T>
void attention_forward(const T* q, const T* k, const T* v, T* o, T* lse, long heads, long tq, long tk, long d,
                       bool causal, T scale, void* stream) {
  if (heads * tq == 0) return;
  check_dims(tk, d);
  const size_t smem = sizeof(T) * static_cast<size_t>(kWarp * (d + 1) + kWarp * d + kRows * d);
  allow_smem(attn_forward_kernel<T>, smem, "attn_forward_kernel smem");
  for (long h0 = 0; h0 < heads; h0 += kMaxGridY) {
    const dim3 grid(static_cast<unsigned>((tq + kRows - 1) / kRows), static_cast<unsigned>(std::min(kMaxGridY, heads - h0)));
    attn_forward_kernel<T><<<grid, kRows * kWarp, smem, as_stream(stream)>>>(q, k, v, o, lse, h0, tq, tk,
                                                                             static_cast<int>(d), causal, scale);
    check_launch("attn_forward_kernel");
  }
}

template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* o, const T* lse, const T* dout, T* dq, T* dk,
                        T* dv, long heads, long tq, long tk, long d, bool causal, T scale, void* stream) {
  if (heads * tk == 0) return;
  check_dims(tk, d);
  const long rows = heads * tq;
  if (rows > 0) {
    check(cudaMemsetAsync(dq, 0, sizeof(T) * static_cast<size_t>(rows * d), as_stream(stream)), "attention dq memset");
  }
  DeviceScratch<T> dsum(static_cast<size_t>(rows), stream);
  if (rows > 0) {
    attn_dsum_kernel<T><<<grid_for(rows, 256), 256, 0, as_stream(stream)>>>(o, dout, dsum.p, rows, static_cast<int>(d));
    check_launch("attn_dsum_kernel");
  }
  const size_t smem = sizeof(T) * static_cast<size_t>(4 * kWarp * (d + 1) + 2 * d);
  allow_smem(attn_backward_kernel<T>, smem, "attn_backward_kernel smem");
  for (long h0 = 0; h0 < heads; h0 += kMaxGridY) {
    const dim3 grid(static_cast<unsigned>((tk + kWarp - 1) / kWarp), static_cast<unsigned>(std::min(kMaxGridY, heads - h0)));
    attn_backward_kernel<T><<<grid, kWarp, smem, as_stream(stream)>>>(q, k, v, lse, dout, dsum.p, dq, dk, dv, h0, tq, tk,
                                                                      static_cast<int>(d), causal, scale);
    check_launch("attn_backward_kernel");
  }
}

template void attention_forward<float>(const float*, const float*, const float*, float*, float*, long, long, long, long,
                                       bool, float, void*);
template void attention_forward<double>(const double*, const double*, const double*, double*, double*, long, long, long,
                                        long, bool, double, void*);
template void attention_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                        const float*, float*, float*, float*, long, long, long, long, bool, float, void*);
template void attention_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                         const double*, double*, double*, double*, long, long, long, long, bool, double,
                                         void*);

}  // namespace pianograd::kernels::cuda
