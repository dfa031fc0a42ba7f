// Helpers every op uses: dtype dispatch and argument checks that throw the typed errors of
// DESIGN.md §3 ("matmul: inner dims differ: [8,16] @ [15,4]").
#pragma once
#include <string>

#include "autodiff/tensor.h"

namespace pianograd {

// Calls f(float{}) or f(double{}) for floating tensors; DTypeError naming `op` otherwise.
template <class F>
decltype(auto) dispatch_floating(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    default: break;
  }
  throw DTypeError(std::string(op) + ": expected a floating dtype (f32/f64), got " + dtype_name(dt));
}

inline void check_defined(const Tensor& t, const char* op, const char* what = "input") {
  if (!t.defined()) throw ValueError(std::string(op) + ": " + what + " is undefined");
}
inline void check_floating(const Tensor& t, const char* op) {
  check_defined(t, op);
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string(op) + ": expected a floating dtype (f32/f64), got " + dtype_name(t.dtype()));
}
inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw DTypeError(std::string(op) + ": dtypes differ: " + dtype_name(a.dtype()) + " and " +
                     dtype_name(b.dtype()));
}
inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  if (!(a.device() == b.device()))
    throw DeviceError(std::string(op) + ": devices differ: " + a.device().str() + " and " + b.device().str());
}
inline void check_index_dtype(const Tensor& t, const char* op) {
  check_defined(t, op, "index");
  if (t.dtype() != DType::i64 && t.dtype() != DType::i32)
    throw DTypeError(std::string(op) + ": index must be i64 or i32, got " + dtype_name(t.dtype()));
}
// Normalises a possibly negative axis against rank `ndim`; IndexError naming the op otherwise.
int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op);

}  // namespace pianograd
