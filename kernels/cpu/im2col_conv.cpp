// Batch drivers of the im2col convolution: per image, im2col then one GEMM per group. Threads split
// the batch (each with its own column buffer; gemm stays single-threaded inside the team); a batch of
// one leaves the threading to gemm. 1x1 kernels with stride 1 and no padding skip im2col: the image
// already is its column matrix.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {
namespace {

bool is_pointwise(const ConvGeom& g) {
  return g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

struct Sizes {
  long G, Cg, Coutg, Kg, ohw, in_img, out_img;
  explicit Sizes(const ConvGeom& g)
      : G(g.groups), Cg(g.C / g.groups), Coutg(g.Cout / g.groups), Kg(g.C / g.groups * g.KH * g.KW),
        ohw(g.out_hw()), in_img(g.C * g.H * g.W), out_img(g.Cout * g.out_hw()) {}
};

// Runs body(n, thread_index) over the batch, in parallel when there is more than one image.
template <class F>
void over_batch(long N, F&& body) {
  if (N <= 1 || omp_in_parallel() || omp_get_max_threads() == 1) {
    for (long n = 0; n < N; ++n) body(n, 0);
    return;
  }
#pragma omp parallel for schedule(static)
  for (long n = 0; n < N; ++n) body(n, omp_get_thread_num());
}

int batch_threads(long N) {
  return (N <= 1 || omp_in_parallel()) ? 1 : std::max(1, omp_get_max_threads());
}

}  // namespace

template <class T>
void conv_forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g) {
  const Sizes s(g);
  const bool direct = is_pointwise(g);
  std::vector<std::vector<T>> bufs(static_cast<size_t>(batch_threads(g.N)));
  over_batch(g.N, [&](long n, int t) {
    const T* xn = x + n * s.in_img;
    T* yn = y + n * s.out_img;
    const T* cols = xn;
    if (!direct) {
      auto& buf = bufs[static_cast<size_t>(t)];
      buf.resize(static_cast<size_t>(g.col_rows() * s.ohw));
      im2col(xn, g, buf.data());
      cols = buf.data();
    }
    for (long grp = 0; grp < s.G; ++grp)
      gemm<T>(false, false, s.Coutg, s.ohw, s.Kg, T(1), w + grp * s.Coutg * s.Kg, s.Kg, cols + grp * s.Kg * s.ohw,
              s.ohw, T(0), yn + grp * s.Coutg * s.ohw, s.ohw);
    if (bias)
      for (long co = 0; co < g.Cout; ++co) {
        T* row = yn + co * s.ohw;
        const T b = bias[co];
        for (long j = 0; j < s.ohw; ++j) row[j] += b;
      }
  });
}

template <class T>
void conv_backward_input(const T* gy, const T* w, T* gx, const ConvGeom& g) {
  const Sizes s(g);
  const bool direct = is_pointwise(g);
  std::vector<std::vector<T>> bufs(static_cast<size_t>(batch_threads(g.N)));
  over_batch(g.N, [&](long n, int t) {
    const T* gyn = gy + n * s.out_img;
    T* gxn = gx + n * s.in_img;
    T* dcols = gxn;
    if (!direct) {
      auto& buf = bufs[static_cast<size_t>(t)];
      buf.resize(static_cast<size_t>(g.col_rows() * s.ohw));
      dcols = buf.data();
    }
    for (long grp = 0; grp < s.G; ++grp)  // dcols_g = W_g^T @ gy_g
      gemm<T>(true, false, s.Kg, s.ohw, s.Coutg, T(1), w + grp * s.Coutg * s.Kg, s.Kg, gyn + grp * s.Coutg * s.ohw,
              s.ohw, T(0), dcols + grp * s.Kg * s.ohw, s.ohw);
    if (!direct) {
      std::fill(gxn, gxn + s.in_img, T(0));
      col2im(dcols, g, gxn);
    }
  });
}

template <class T>
void conv_backward_weight(const T* x, const T* gy, T* gw, const ConvGeom& g) {
  const Sizes s(g);
  const bool direct = is_pointwise(g);
  const long wsize = g.Cout * s.Kg;
  const int nt = batch_threads(g.N);
  // Per-thread partial sums, added in thread order afterwards: no races, and the result does not
  // depend on scheduling.
  std::vector<std::vector<T>> parts(static_cast<size_t>(nt), std::vector<T>(static_cast<size_t>(wsize), T(0)));
  std::vector<std::vector<T>> bufs(static_cast<size_t>(nt));
  over_batch(g.N, [&](long n, int t) {
    const T* xn = x + n * s.in_img;
    const T* gyn = gy + n * s.out_img;
    const T* cols = xn;
    if (!direct) {
      auto& buf = bufs[static_cast<size_t>(t)];
      buf.resize(static_cast<size_t>(g.col_rows() * s.ohw));
      im2col(xn, g, buf.data());
      cols = buf.data();
    }
    T* part = parts[static_cast<size_t>(t)].data();
    for (long grp = 0; grp < s.G; ++grp)  // gw_g += gy_g @ cols_g^T
      gemm<T>(false, true, s.Coutg, s.Kg, s.ohw, T(1), gyn + grp * s.Coutg * s.ohw, s.ohw, cols + grp * s.Kg * s.ohw,
              s.ohw, T(1), part + grp * s.Coutg * s.Kg, s.Kg);
  });
  std::copy(parts[0].begin(), parts[0].end(), gw);
  for (size_t t = 1; t < parts.size(); ++t)
    for (long i = 0; i < wsize; ++i) gw[i] += parts[t][static_cast<size_t>(i)];
}

template void conv_forward<float>(const float*, const float*, const float*, float*, const ConvGeom&);
template void conv_forward<double>(const double*, const double*, const double*, double*, const ConvGeom&);
template void conv_backward_input<float>(const float*, const float*, float*, const ConvGeom&);
template void conv_backward_input<double>(const double*, const double*, double*, const ConvGeom&);
template void conv_backward_weight<float>(const float*, const float*, float*, const ConvGeom&);
template void conv_backward_weight<double>(const double*, const double*, double*, const ConvGeom&);

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(conv_forward);
PG_CPU_KERNEL(conv_backward_input);
PG_CPU_KERNEL(conv_backward_weight);

}  // namespace pianograd::kernels::cpu
