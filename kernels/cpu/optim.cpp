// Baseline-compiled dispatcher for the fused optimizer updates, and their scalar references.
#include "kernels/cpu/optim.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/common/adam_math.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {
namespace ref {
template <class T>
void adam_update(T* p, const T* g, T* m, T* v, long n, const AdamStep& s) {
  // The per-element math is shared with the CUDA kernel (kernels/common/adam_math.h).
  const AdamCoeffs<T> c = adam_coeffs<T>(s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.decoupled,
                                         s.bias_correction1, s.bias_correction2);
  for (long i = 0; i < n; ++i) adam_element(p[i], g[i], m[i], v[i], c);
}
template void adam_update<float>(float*, const float*, float*, float*, long, const AdamStep&);
template void adam_update<double>(double*, const double*, double*, double*, long, const AdamStep&);
}  // namespace ref

namespace {
template <class T>
using AdamFn = void (*)(T*, const T*, T*, T*, long, const AdamStep&);

template <class T>
AdamFn<T> pick_adam() {
  switch (active_isa()) {
    case Isa::avx512: return &avx512::adam_update<T>;
    case Isa::avx2: return &avx2::adam_update<T>;
    case Isa::sse2: return &sse2::adam_update<T>;
    case Isa::scalar: break;
  }
  return &ref::adam_update<T>;
}

}  // namespace

template <class T>
void adam_update(T* p, const T* g, T* m, T* v, long n, const AdamStep& s) {
  const AdamFn<T> fn = pick_adam<T>();
  parallel_chunks(n, [&](long lo, long hi) { fn(p + lo, g + lo, m + lo, v + lo, hi - lo, s); });
}

template <class T>
void sgd_update(T* p, const T* g, T* buf, long n, const SgdStep& s) {
  const T lr = static_cast<T>(s.lr), mu = static_cast<T>(s.momentum);
  const T damp = static_cast<T>(1.0 - s.dampening), wd = static_cast<T>(s.weight_decay);
  if (s.momentum == 0.0 || buf == nullptr) {
    parallel_chunks(n, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) p[i] -= lr * (g[i] + wd * p[i]);
    });
    return;
  }
  parallel_chunks(n, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) {
      const T gi = g[i] + wd * p[i];
      const T b = s.first ? gi : mu * buf[i] + damp * gi;
      buf[i] = b;
      p[i] -= lr * (s.nesterov ? gi + mu * b : b);
    }
  });
}

template <class T>
double sum_squares(const T* x, long n) {
  double total = 0.0;
  // Deterministic for a given thread count: OpenMP's reduction combines per-thread partials in a
  // fixed order only within one runtime, which is what DESIGN.md §3 asks.
#pragma omp parallel for reduction(+ : total) schedule(static) if (n >= kParallelGrain)
  for (long i = 0; i < n; ++i) total += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return total;
}

template <class T>
void scale_inplace(T* x, long n, double factor) {
  const T f = static_cast<T>(factor);
  parallel_chunks(n, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) x[i] *= f;
  });
}

template void adam_update<float>(float*, const float*, float*, float*, long, const AdamStep&);
template void adam_update<double>(double*, const double*, double*, double*, long, const AdamStep&);
template void sgd_update<float>(float*, const float*, float*, long, const SgdStep&);
template void sgd_update<double>(double*, const double*, double*, long, const SgdStep&);
template double sum_squares<float>(const float*, long);
template double sum_squares<double>(const double*, long);
template void scale_inplace<float>(float*, long, double);
template void scale_inplace<double>(double*, long, double);

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(adam_update);
PG_CPU_KERNEL(sgd_update);

}  // namespace pianograd::kernels::cpu
