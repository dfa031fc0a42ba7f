// Elementwise kernels over contiguous runs. Binary kernels take a per-operand stride of 0 (broadcast
// scalar) or 1, so autodiff's broadcasting walker can hand them every inner run unchanged.
#pragma once
#include "kernels/common/elementwise_math.h"

namespace pianograd::kernels::cpu {

// Dispatched by ISA, threaded with OpenMP for long runs.
template <class T> void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n);
template <class T> void unary(UnaryOp op, const T* x, T* y, long n);
// gx = gy * f'(x), with y = f(x) available for ops whose derivative is cheaper from y (exp, tanh,
// sigmoid, sqrt). Fused so a VJP is one pass, not a chain of ops.
template <class T> void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n);

// The scalar references (plain loops over kernels/common math) used by tests and benchmarks.
namespace ref {
template <class T> void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n);
template <class T> void unary(UnaryOp op, const T* x, T* y, long n);
template <class T> void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n);
}  // namespace ref

// One namespace per ISA translation unit (elementwise_<isa>.cpp), single-threaded.
#define PG_ELEMENTWISE_ISA_DECL(ns)                                                             \
  namespace ns {                                                                                \
  template <class T> void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n); \
  template <class T> void unary(UnaryOp op, const T* x, T* y, long n);                          \
  template <class T> void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n); \
  }
PG_ELEMENTWISE_ISA_DECL(sse2)
PG_ELEMENTWISE_ISA_DECL(avx2)
PG_ELEMENTWISE_ISA_DECL(avx512)
#undef PG_ELEMENTWISE_ISA_DECL

}  // namespace pianograd::kernels::cpu
