// Baseline-compiled dispatcher for the elementwise kernels, the scalar references and the fused
// derivative kernels.
#include "kernels/cpu/elementwise.h"

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
template void binary<float>(BinaryOp, const float*, long, const float*, long, float*, long);
template void binary<double>(BinaryOp, const double*, long, const double*, long, double*, long);
template void unary<float>(UnaryOp, const float*, float*, long);
template void unary<double>(UnaryOp, const double*, double*, long);
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
  auto each = [&](auto&& d) {
    parallel_chunks(n, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) gx[i] = gy[i] * d(x[i], y[i]);
    });
  };
  switch (op) {
    case UnaryOp::neg: return each([](T, T) { return T(-1); });
    case UnaryOp::exp: return each([](T, T v) { return v; });
    case UnaryOp::log: return each([](T u, T) { return T(1) / u; });
    case UnaryOp::sqrt: return each([](T, T v) { return T(0.5) / v; });
    case UnaryOp::abs: return each([](T u, T) { return u > T(0) ? T(1) : (u < T(0) ? T(-1) : T(0)); });
    case UnaryOp::sin: return each([](T u, T) { return std::cos(u); });
    case UnaryOp::cos: return each([](T u, T) { return -std::sin(u); });
    case UnaryOp::tanh: return each([](T, T v) { return T(1) - v * v; });
    case UnaryOp::sigmoid: return each([](T, T v) { return v * (T(1) - v); });
    case UnaryOp::relu: return each([](T u, T) { return u > T(0) ? T(1) : T(0); });
    case UnaryOp::gelu: return each([](T u, T) { return gelu_grad_scalar(u); });
    case UnaryOp::softplus: return each([](T u, T) { return sigmoid_scalar(u); });
  }
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

}  // namespace pianograd::kernels::cpu
