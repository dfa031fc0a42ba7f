// The CUDA kernels the transcriber's training step needs beyond the core set (issue 6): the strided
// box copy behind slice/concat/stack/pad, comparisons (maximum/minimum VJPs), clamp, harmonic
// stacking, the pointwise losses and the SGD step. All are memory-bound streaming passes with one
// writer per output element (no atomics: deterministic, bit-identical run to run).
#include "kernels/common/loss_math.h"
#include "kernels/common/sgd_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::kernels::cuda {
namespace {

constexpr int kBlock = 256;

#define PG_GRID_STRIDE(i, n)                                                              \
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<long>(gridDim.x) * blockDim.x)

// Elements moved as same-sized integers: the copy needs no knowledge of the dtype.
template <class E>
__global__ void strided_copy_kernel(const E* __restrict__ src, E* __restrict__ dst, StridedCopyGeom g, long n) {
  PG_GRID_STRIDE(i, n) {
    long rest = i, so = g.src_offset, d_o = g.dst_offset;
    for (int d = g.nd - 1; d >= 0; --d) {
      const long k = rest % g.box[d];
      rest /= g.box[d];
      so += k * g.src_stride[d];
      d_o += k * g.dst_stride[d];
    }
    dst[d_o] = src[so];
  }
}

template <class T>
__device__ inline bool compare_op(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::eq: return a == b;
    case CompareOp::lt: return a < b;
    case CompareOp::le: return a <= b;
    case CompareOp::gt: return a > b;
    case CompareOp::ge: return a >= b;
  }
  return false;
}

template <class T>
__global__ void compare_kernel(CompareOp op, const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,
                               BroadcastGeom g, long n) {
  PG_GRID_STRIDE(i, n) {
    long oa = 0, ob = 0, rest = i;
    for (int d = g.nd - 1; d >= 0; --d) {
      const long k = rest % g.shape[d];
      rest /= g.shape[d];
      oa += k * g.sa[d];
      ob += k * g.sb[d];
    }
    y[i] = compare_op(op, a[oa], b[ob]) ? T(1) : T(0);
  }
}

template <class T>
__global__ void clamp_kernel(const T* __restrict__ x, T* __restrict__ y, T* __restrict__ inside, long n, T lo, T hi) {
  PG_GRID_STRIDE(i, n) {
    const T v = x[i];
    // std::clamp's result for NaN is NaN (both comparisons false); keep it.
    y[i] = v < lo ? lo : (hi < v ? hi : v);
    inside[i] = (v >= lo && v <= hi) ? T(1) : T(0);
  }
}

struct Shifts {
  long s[kMaxHarmonicShifts];
};

template <class T>
__global__ void harmonic_forward_kernel(const T* __restrict__ x, long R, long L, Shifts sh, long S, T* __restrict__ y,
                                        long n) {
  PG_GRID_STRIDE(i, n) {  // i over y [B, S, R, L]
    const long j = i % L, r = (i / L) % R, s = (i / (L * R)) % S, b = i / (L * R * S);
    const long src = j + sh.s[s];
    y[i] = (src >= 0 && src < L) ? x[(b * R + r) * L + src] : T(0);
  }
}

template <class T>
__global__ void harmonic_backward_kernel(const T* __restrict__ gy, long R, long L, Shifts sh, long S,
                                         T* __restrict__ gx, long n) {
  PG_GRID_STRIDE(i, n) {  // i over gx [B, R, L]; channel s read column i - shift[s] of its gy row
    const long c = i % L, r = (i / L) % R, b = i / (L * R);
    T acc = T(0);
    for (long s = 0; s < S; ++s) {
      const long j = c - sh.s[s];
      if (j >= 0 && j < L) acc += gy[((b * S + s) * R + r) * L + j];
    }
    gx[i] = acc;
  }
}

template <class T>
__global__ void pointwise_loss_kernel(PointwiseLoss kind, const T* __restrict__ a, const T* __restrict__ b,
                                      const T* __restrict__ w, T* __restrict__ e, T* __restrict__ da,
                                      T* __restrict__ db, T* __restrict__ dw, long n) {
  PG_GRID_STRIDE(i, n) {
    T ga, gb, gw;
    e[i] = pointwise_loss_element(kind, a[i], b[i], w ? w[i] : T(1), ga, gb, gw);
    if (da) da[i] = ga;
    if (db) db[i] = gb;
    if (dw) dw[i] = gw;
  }
}

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, long n, SgdCoeffs<T> c) {
  PG_GRID_STRIDE(i, n) {
    T pi = p[i];
    sgd_element(pi, g[i], buf ? buf + i : nullptr, c);
    p[i] = pi;
  }
}

Shifts pack_shifts(const long* shift, long S, const char* what) {
  if (S < 1 || S > kMaxHarmonicShifts)
    throw std::runtime_error(std::string(what) + ": " + std::to_string(S) + " shifts, expected 1.." +
                             std::to_string(kMaxHarmonicShifts));
  Shifts sh{};
  for (long s = 0; s < S; ++s) sh.s[s] = shift[s];
  return sh;
}

}  // namespace

void strided_copy(const void* src, void* dst, const StridedCopyGeom& g, long elem_size, void* stream) {
  long n = 1;
  for (int d = 0; d < g.nd; ++d) n *= g.box[d];
  if (n <= 0) return;
  const unsigned grid = grid_for(n, kBlock);
  const cudaStream_t st = as_stream(stream);
  auto launch = [&](auto tag) {
    using E = decltype(tag);
    strided_copy_kernel<E><<<grid, kBlock, 0, st>>>(static_cast<const E*>(src), static_cast<E*>(dst), g, n);
  };
  switch (elem_size) {
    case 1: launch(static_cast<unsigned char>(0)); break;
    case 2: launch(static_cast<unsigned short>(0)); break;
    case 4: launch(0u); break;
    case 8: launch(0ull); break;
    default: throw std::runtime_error("strided_copy: unsupported element size " + std::to_string(elem_size));
  }
  check_launch("strided_copy_kernel");
}

template <class T>
void compare_broadcast(CompareOp op, const T* a, const T* b, T* y, const BroadcastGeom& g, void* stream) {
  long n = 1;
  for (int d = 0; d < g.nd; ++d) n *= g.shape[d];
  if (n <= 0) return;
  compare_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(op, a, b, y, g, n);
  check_launch("compare_kernel");
}

template <class T>
void clamp(const T* x, T* y, T* inside, long n, T lo, T hi, void* stream) {
  if (n <= 0) return;
  clamp_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(x, y, inside, n, lo, hi);
  check_launch("clamp_kernel");
}

template <class T>
void harmonic_stack_forward(const T* x, long B, long R, long L, const long* shift, long S, T* y, void* stream) {
  const Shifts sh = pack_shifts(shift, S, "harmonic_stack_forward");
  const long n = B * S * R * L;
  if (n <= 0) return;
  harmonic_forward_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(x, R, L, sh, S, y, n);
  check_launch("harmonic_forward_kernel");
}

template <class T>
void harmonic_stack_backward(const T* gy, long B, long R, long L, const long* shift, long S, T* gx, void* stream) {
  const Shifts sh = pack_shifts(shift, S, "harmonic_stack_backward");
  const long n = B * R * L;
  if (n <= 0) return;
  harmonic_backward_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(gy, R, L, sh, S, gx, n);
  check_launch("harmonic_backward_kernel");
}

template <class T>
void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, T* e, T* da, T* db, T* dw, long n,
                    void* stream) {
  if (n <= 0) return;
  pointwise_loss_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(kind, a, b, w, e, da, db, dw, n);
  check_launch("pointwise_loss_kernel");
}

template <class T>
void sgd_update(T* p, const T* g, T* buf, long n, const cpu::SgdStep& s, void* stream) {
  if (n <= 0) return;
  const SgdCoeffs<T> c = sgd_coeffs<T>(s.lr, s.momentum, s.dampening, s.weight_decay, s.nesterov, s.first);
  sgd_kernel<T><<<grid_for(n, kBlock), kBlock, 0, as_stream(stream)>>>(p, g, buf, n, c);
  check_launch("sgd_kernel");
}

#define PG_MODEL_OPS_INST(T)                                                                             \
  template void compare_broadcast<T>(CompareOp, const T*, const T*, T*, const BroadcastGeom&, void*);    \
  template void clamp<T>(const T*, T*, T*, long, T, T, void*);                                          \
  template void harmonic_stack_forward<T>(const T*, long, long, long, const long*, long, T*, void*);    \
  template void harmonic_stack_backward<T>(const T*, long, long, long, const long*, long, T*, void*);   \
  template void pointwise_loss<T>(PointwiseLoss, const T*, const T*, const T*, T*, T*, T*, T*, long, void*); \
  template void sgd_update<T>(T*, const T*, T*, long, const cpu::SgdStep&, void*);
PG_MODEL_OPS_INST(float)
PG_MODEL_OPS_INST(double)
#undef PG_MODEL_OPS_INST

}  // namespace pianograd::kernels::cuda
