// The xsimd body of the fused Adam/AdamW update, templated on the architecture. Included only by the
// per-ISA translation units, each compiled with its own -m flags (xsimd 8.1 requires it).
#pragma once
#include <cmath>

#include <xsimd/xsimd.hpp>

#include "kernels/cpu/optim.h"

namespace pianograd::kernels::cpu::simd {

// Same operation order as ref::adam_update, so results agree to rounding (FMA contraction aside).
template <class Arch, class T>
void adam_update(T* p, const T* g, T* m, T* v, long n, const AdamStep& s) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = static_cast<long>(B::size);
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T one_b1 = static_cast<T>(1.0 - s.beta1), one_b2 = static_cast<T>(1.0 - s.beta2);
  const T step_size = static_cast<T>(s.lr / s.bias_correction1);
  const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(s.bias_correction2));
  const T eps = static_cast<T>(s.eps);
  const T decay = static_cast<T>(s.decoupled ? 1.0 - s.lr * s.weight_decay : 1.0);
  const T l2 = static_cast<T>(s.decoupled ? 0.0 : s.weight_decay);
  const B vb1(b1), vb2(b2), v1b1(one_b1), v1b2(one_b2), vstep(step_size), vinv(inv_sqrt_bc2), veps(eps),
      vdecay(decay), vl2(l2);
  long i = 0;
  for (; i + W <= n; i += W) {
    B pp = B::load_unaligned(p + i);
    B gg = B::load_unaligned(g + i);
    gg = xsimd::fma(vl2, pp, gg);
    pp = pp * vdecay;
    const B mm = xsimd::fma(vb1, B::load_unaligned(m + i), v1b1 * gg);
    const B vv = xsimd::fma(vb2, B::load_unaligned(v + i), v1b2 * (gg * gg));
    const B denom = xsimd::fma(xsimd::sqrt(vv), vinv, veps);
    pp = pp - vstep * (mm / denom);
    mm.store_unaligned(m + i);
    vv.store_unaligned(v + i);
    pp.store_unaligned(p + i);
  }
  if (i < n) ref::adam_update(p + i, g + i, m + i, v + i, n - i, s);
}

}  // namespace pianograd::kernels::cpu::simd

#define PG_OPTIM_ISA_DEFINE(ns, Arch)                                                              \
  namespace pianograd::kernels::cpu::ns {                                                          \
  template <class T> void adam_update(T* p, const T* g, T* m, T* v, long n, const AdamStep& s) {   \
    simd::adam_update<Arch, T>(p, g, m, v, n, s);                                                  \
  }                                                                                                \
  template void adam_update<float>(float*, const float*, float*, float*, long, const AdamStep&);   \
  template void adam_update<double>(double*, const double*, double*, double*, long, const AdamStep&); \
  }
