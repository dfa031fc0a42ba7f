// Shared by the binding files of pianograd._core (one file per C++ area). pybind11 stays here, out of
// the library's headers.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "autodiff/tensor.h"

namespace py = pybind11;

namespace pgpy {

using pianograd::DType;
using pianograd::Shape;
using pianograd::Tensor;

void bind_errors(py::module_& m);
void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_nn(py::module_& m);
void bind_optim(py::module_& m);
void bind_io(py::module_& m);
void bind_info(py::module_& m);

// NumPy array -> Tensor. Shares memory when the array is C-contiguous, aligned, writeable, native
// byte order and of a supported dtype; otherwise copies (converting the dtype where a lossless one
// exists). The Tensor's storage keeps the array alive.
Tensor tensor_from_array(const py::handle& obj);
// Tensor -> NumPy array viewing the same memory; the array keeps the Tensor alive via `base`.
py::object tensor_to_array(const py::object& self);
// Operand of an arithmetic operator: a Tensor as is; a Python number or array-like becomes a tensor
// of `like`'s dtype (no gradient).
Tensor as_operand(const py::handle& other, const Tensor& like);
// DType from a DType, a string ("float32", "f32", "int64"...) or anything numpy.dtype() accepts.
DType dtype_from(const py::handle& obj);
// Adds __dlpack__, __dlpack_device__ to Tensor and from_dlpack to the module (bind_dlpack.cpp).
void bind_dlpack(py::module_& m, py::class_<Tensor>& cls);
// Python's `x[key]` on a tensor: ints, slices, None, Ellipsis and 1-D integer index tensors.
Tensor tensor_getitem(const Tensor& x, const py::object& key);

// Releases the GIL for the lifetime of the guard when `numel` is large enough that the call will take
// a while; small calls keep it (releasing costs more than the op). Ops are not re-entrant into Python.
class MaybeRelease {
 public:
  explicit MaybeRelease(int64_t numel) {
    if (numel >= kThreshold) rel_.emplace();
  }
  static constexpr int64_t kThreshold = 1 << 16;

 private:
  std::optional<py::gil_scoped_release> rel_;
};

// Shape from a Python int or a sequence of ints (the *shape / shape= forms of the API).
Shape shape_from(const py::handle& obj);
py::tuple shape_to_tuple(const Shape& s);

}  // namespace pgpy
