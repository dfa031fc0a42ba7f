// clone and dtype casts.
#include <cstring>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(clone);
PG_REGISTER_OP(cast);

Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor y = is_cuda() ? detail::cuda_copy(*this) : Tensor::empty(shape(), dtype(), device());  // device->device
  if (!is_cuda() && nbytes()) std::memcpy(y.raw_data(), raw_data(), nbytes());
  record(y, "clone", {*this}, [](const Tensor& gy) -> Grads { return {gy}; });
  return y;
}

namespace {
template <class S, class D>
void convert(const void* src, void* dst, int64_t n) {
  const S* s = static_cast<const S*>(src);
  D* d = static_cast<D*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
}
template <class S>
void convert_from(const void* src, void* dst, DType to, int64_t n) {
  switch (to) {
    case DType::f32: return convert<S, float>(src, dst, n);
    case DType::f64: return convert<S, double>(src, dst, n);
    case DType::i32: return convert<S, int32_t>(src, dst, n);
    case DType::i64: return convert<S, int64_t>(src, dst, n);
  }
}
}  // namespace

Tensor Tensor::to(DType to_dtype) const {
  check_defined("to");
  if (to_dtype == dtype()) return *this;
  if (is_cuda()) [[unlikely]] return detail::cuda_cast(*this, to_dtype);  // a device kernel, recorded alike
  Tensor y = Tensor::empty(shape(), to_dtype, device());
  const int64_t n = numel();
  switch (dtype()) {
    case DType::f32: convert_from<float>(raw_data(), y.raw_data(), to_dtype, n); break;
    case DType::f64: convert_from<double>(raw_data(), y.raw_data(), to_dtype, n); break;
    case DType::i32: convert_from<int32_t>(raw_data(), y.raw_data(), to_dtype, n); break;
    case DType::i64: convert_from<int64_t>(raw_data(), y.raw_data(), to_dtype, n); break;
  }
  if (is_floating(to_dtype) && is_floating(dtype())) {
    record(y, "cast", {*this}, [from = dtype()](const Tensor& gy) -> Grads { return {gy.to(from)}; });
  }
  return y;
}

}  // namespace pianograd
