// Dispatch of the pointwise losses by ISA, threaded over chunks, and the scalar reference.
#include "kernels/cpu/pointwise_loss.h"

#include <algorithm>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

namespace ref {
template <class T>
void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, long ws, T* e, T* da, T* db, T* dw,
                    long n) {
  for (long i = 0; i < n; ++i) {
    T ga, gb, gw;
    e[i] = pointwise_loss_element(kind, a[i], b[i], w ? w[i * ws] : T(1), ga, gb, gw);
    if (da) da[i] = ga;
    if (db) db[i] = gb;
    if (dw) dw[i] = gw;
  }
}
}  // namespace ref

template <class T>
void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, long ws, T* e, T* da, T* db, T* dw,
                    long n) {
  using Fn = void (*)(PointwiseLoss, const T*, const T*, const T*, long, T*, T*, T*, T*, long);
  Fn f = &ref::pointwise_loss<T>;
  switch (active_isa()) {
    case Isa::avx512: f = &avx512::pointwise_loss<T>; break;
    case Isa::avx2: f = &avx2::pointwise_loss<T>; break;
    case Isa::sse2: f = &sse2::pointwise_loss<T>; break;
    case Isa::scalar: break;
  }
  constexpr long kChunk = 1L << 14;  // a multiple of every SIMD width
  const long chunks = (n + kChunk - 1) / kChunk;
  auto at = [](auto* p, long i) { return p ? p + i : nullptr; };
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (long c = 0; c < chunks; ++c) {
    const long i = c * kChunk, m = std::min(kChunk, n - i);
    f(kind, a + i, b + i, w ? w + i * ws : nullptr, ws, e + i, at(da, i), at(db, i), at(dw, i), m);
  }
}

#define PG_POINTWISE_LOSS_INST(T)                                                                            \
  template void pointwise_loss<T>(PointwiseLoss, const T*, const T*, const T*, long, T*, T*, T*, T*, long);   \
  template void ref::pointwise_loss<T>(PointwiseLoss, const T*, const T*, const T*, long, T*, T*, T*, T*, long);
PG_POINTWISE_LOSS_INST(float)
PG_POINTWISE_LOSS_INST(double)
#undef PG_POINTWISE_LOSS_INST

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(pointwise_loss);

}  // namespace pianograd::kernels::cpu
