// Baseline-compiled dispatcher for the elementwise kernels, the scalar references and the fused
// derivative kernels.
#include "kernels/cpu/elementwise.h"

#include "kernels/common/unary_grad.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {
namespace ref {
template <class T>
void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n) {
  for (long i = 0; i < n; ++i) y[i] = binary_scalar(op, a[i * sa], b[i * sb]);
}
template <class T>
void unary(UnaryOp op, const T* x, T* y, long n) {
  for (long i = 0; i < n; ++i) y[i] = unary_scalar(op, x[i]);
}
template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n) {
  for (long i = 0; i < n; ++i) gx[i] = gy[i] * unary_grad_scalar(op, x[i], y[i]);
}
template void binary<float>(BinaryOp, const float*, long, const float*, long, float*, long);
template void binary<double>(BinaryOp, const double*, long, const double*, long, double*, long);
template void unary<float>(UnaryOp, const float*, float*, long);
template void unary<double>(UnaryOp, const double*, double*, long);
template void unary_backward<float>(UnaryOp, const float*, const float*, const float*, float*, long);
template void unary_backward<double>(UnaryOp, const double*, const double*, const double*, double*, long);
}  // namespace ref

namespace {
template <class T>
using BinaryFn = void (*)(BinaryOp, const T*, long, const T*, long, T*, long);
template <class T>
using UnaryFn = void (*)(UnaryOp, const T*, T*, long);

template <class T>
BinaryFn<T> pick_binary() {
  switch (active_isa()) {
    case Isa::avx512: return &avx512::binary<T>;
    case Isa::avx2: return &avx2::binary<T>;
    case Isa::sse2: return &sse2::binary<T>;
    case Isa::scalar: break;
  }
  return &ref::binary<T>;
}
template <class T>
using UnaryBwdFn = void (*)(UnaryOp, const T*, const T*, const T*, T*, long);

template <class T>
UnaryBwdFn<T> pick_unary_backward() {
  switch (active_isa()) {
    case Isa::avx512: return &avx512::unary_backward<T>;
    case Isa::avx2: return &avx2::unary_backward<T>;
    case Isa::sse2: return &sse2::unary_backward<T>;
    case Isa::scalar: break;
  }
  return &ref::unary_backward<T>;
}
template <class T>
UnaryFn<T> pick_unary() {
  switch (active_isa()) {
    case Isa::avx512: return &avx512::unary<T>;
    case Isa::avx2: return &avx2::unary<T>;
    case Isa::sse2: return &sse2::unary<T>;
    case Isa::scalar: break;
  }
  return &ref::unary<T>;
}

}  // namespace

template <class T>
void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n) {
  const BinaryFn<T> fn = pick_binary<T>();
  parallel_chunks(n, [&](long lo, long hi) { fn(op, a + lo * sa, sa, b + lo * sb, sb, y + lo, hi - lo); });
}

template <class T>
void unary(UnaryOp op, const T* x, T* y, long n) {
  const UnaryFn<T> fn = pick_unary<T>();
  parallel_chunks(n, [&](long lo, long hi) { fn(op, x + lo, y + lo, hi - lo); });
}

template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n) {
  const UnaryBwdFn<T> fn = pick_unary_backward<T>();
  parallel_chunks(n, [&](long lo, long hi) { fn(op, x + lo, y + lo, gy + lo, gx + lo, hi - lo); });
}

template void binary<float>(BinaryOp, const float*, long, const float*, long, float*, long);
template void binary<double>(BinaryOp, const double*, long, const double*, long, double*, long);
template void unary<float>(UnaryOp, const float*, float*, long);
template void unary<double>(UnaryOp, const double*, double*, long);
template void unary_backward<float>(UnaryOp, const float*, const float*, const float*, float*, long);
template void unary_backward<double>(UnaryOp, const double*, const double*, const double*, double*, long);

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(binary);
PG_CPU_KERNEL(unary);
PG_CPU_KERNEL(unary_backward);

}  // namespace pianograd::kernels::cpu
