// The xsimd body of the pointwise losses (pointwise_loss.h), templated on the architecture; included
// only by the per-ISA translation units pointwise_loss_<isa>.cpp.
#pragma once
#include <xsimd/xsimd.hpp>

#include "kernels/cpu/pointwise_loss.h"

namespace pianograd::kernels::cpu::simd {

// bce_with_logits on one batch, the algebra of loss_math.h with the shared exponential
// e = exp(-|x|):  softplus(-x) = max(-x, 0) + log1p(e),  sigmoid(-x) = (x >= 0 ? e : 1) / (1 + e).
template <class B>
inline B bce_batch(B x, B t, B w, B& dx, B& dt, B& dw) {
  const B one(typename B::value_type(1)), zero(typename B::value_type(0));
  const B e = xsimd::exp(-xsimd::abs(x));
  const B sp = xsimd::max(-x, zero) + xsimd::log1p(e);
  const B sig = xsimd::select(x >= zero, e, one) / (one + e);
  const B lw = one + (w - one) * t;
  dx = (one - t) - lw * sig;
  dt = (w - one) * sp - x;
  dw = t * sp;
  return (one - t) * x + lw * sp;
}

template <class Arch, class T>
void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, long ws, T* e, T* da, T* db, T* dw,
                    long n) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = static_cast<long>(B::size);
  long i = 0;
  for (; i + W <= n; i += W) {
    const B x = B::load_unaligned(a + i), t = B::load_unaligned(b + i);
    const B wv = !w ? B(T(1)) : (ws ? B::load_unaligned(w + i) : B(w[0]));
    B gx, gt, gw(T(0)), l;
    switch (kind) {
      case PointwiseLoss::mse: {
        const B d = x - t;
        gx = B(T(2)) * d;
        gt = -gx;
        l = d * d;
        break;
      }
      case PointwiseLoss::l1: {
        const B d = x - t;
        gx = xsimd::select(d > B(T(0)), B(T(1)), xsimd::select(d < B(T(0)), B(T(-1)), B(T(0))));
        gt = -gx;
        l = xsimd::abs(d);
        break;
      }
      case PointwiseLoss::bce_with_logits: l = bce_batch(x, t, wv, gx, gt, gw); break;
    }
    l.store_unaligned(e + i);
    if (da) gx.store_unaligned(da + i);
    if (db) gt.store_unaligned(db + i);
    if (dw) gw.store_unaligned(dw + i);
  }
  if (i < n) ref::pointwise_loss<T>(kind, a + i, b + i, w ? w + i * ws : nullptr, ws, e + i, da ? da + i : nullptr,
                                    db ? db + i : nullptr, dw ? dw + i : nullptr, n - i);
}

}  // namespace pianograd::kernels::cpu::simd

#define PG_POINTWISE_LOSS_ISA_DEFINE(ns, Arch)                                                            \
  namespace pianograd::kernels::cpu::ns {                                                                 \
  template <class T>                                                                                      \
  void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, long ws, T* e, T* da, T* db, \
                      T* dw, long n) {                                                                    \
    simd::pointwise_loss<Arch, T>(kind, a, b, w, ws, e, da, db, dw, n);                                   \
  }                                                                                                       \
  template void pointwise_loss<float>(PointwiseLoss, const float*, const float*, const float*, long, float*, \
                                      float*, float*, float*, long);                                     \
  template void pointwise_loss<double>(PointwiseLoss, const double*, const double*, const double*, long,  \
                                       double*, double*, double*, double*, long);                        \
  }
