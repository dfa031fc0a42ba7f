// The pointwise losses (mse, l1, bce_with_logits; per-element math in kernels/common/loss_math.h) over
// arrays, with their partial derivatives in the same pass: the CPU side of autodiff/ops/losses.cpp.
// bce_with_logits costs one exp and one log1p per element (the scalar form spends two exps, through
// softplus and sigmoid separately, in libm calls: 2.8% of a transcriber training step); the xsimd body
// vectorises both. Threaded above kParallelGrain elements.
#pragma once
#include "kernels/common/loss_math.h"

namespace pianograd::kernels::cpu {

// e[i] = loss(a[i], b[i], w[i * ws]); da, db, dw (each may be null) receive its partials. w null: 1.
// ws is 0 (one weight for all, e.g. a scalar pos_weight) or 1.
template <class T>
void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, long ws, T* e, T* da, T* db, T* dw,
                    long n);

namespace ref {  // pointwise_loss_element per element
template <class T>
void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, long ws, T* e, T* da, T* db, T* dw,
                    long n);
}  // namespace ref

#define PG_POINTWISE_LOSS_ISA_DECL(ns)                                                                    \
  namespace ns {                                                                                          \
  template <class T>                                                                                      \
  void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, long ws, T* e, T* da, T* db, \
                      T* dw, long n);                                                                     \
  }
PG_POINTWISE_LOSS_ISA_DECL(sse2)
PG_POINTWISE_LOSS_ISA_DECL(avx2)
PG_POINTWISE_LOSS_ISA_DECL(avx512)
#undef PG_POINTWISE_LOSS_ISA_DECL

}  // namespace pianograd::kernels::cpu
