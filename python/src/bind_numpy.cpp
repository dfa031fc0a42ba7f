// NumPy interop: zero-copy both ways when the layout allows (row-major, aligned, writeable, a dtype
// we have), a copy otherwise. Also the small conversions every binding file uses.
#include <pybind11/numpy.h>

#include <string>

#include "autodiff/ops.h"
#include "bind_common.h"

namespace pgpy {
namespace {

py::module_& numpy() {
  // Imported on first use and kept for the interpreter's lifetime (PyImport caches it anyway).
  static py::module_* np = new py::module_(py::module_::import("numpy"));
  return *np;
}

py::dtype np_dtype_of(DType d) {
  switch (d) {
    case DType::f32: return py::dtype::of<float>();
    case DType::f64: return py::dtype::of<double>();
    case DType::i32: return py::dtype::of<int32_t>();
    case DType::i64: return py::dtype::of<int64_t>();
  }
  throw pianograd::DTypeError("numpy: unknown dtype");
}

// The pianograd dtype an array of `dt` becomes: exact when we have it, else the nearest lossless one.
DType target_dtype(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f') return size <= 4 ? DType::f32 : DType::f64;
  if (kind == 'i') return size == 4 ? DType::i32 : DType::i64;
  if (kind == 'u' || kind == 'b') return DType::i64;
  throw pianograd::DTypeError("tensor: unsupported NumPy dtype " + py::str(dt).cast<std::string>() +
                              " (supported: float32, float64, int32, int64; bool/int/uint convert to int64)");
}

// Drops the reference a Tensor's storage holds on a NumPy array. Runs wherever the last Tensor alias
// dies, possibly on a thread without the GIL, so it takes the GIL; during interpreter shutdown the
// object is leaked instead (touching Python then is not allowed).
void release_pyobject(PyObject* obj) {
  if (!Py_IsInitialized()) return;
#if PY_VERSION_HEX >= 0x030D0000
  if (Py_IsFinalizing()) return;
#else
  if (_Py_IsFinalizing()) return;
#endif
  PyGILState_STATE st = PyGILState_Ensure();
  Py_DECREF(obj);
  PyGILState_Release(st);
}

}  // namespace

Shape shape_from(const py::handle& obj) {
  if (PyIndex_Check(obj.ptr()) && !py::isinstance<py::bool_>(obj)) return Shape{obj.cast<int64_t>()};
  if (py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj)) {
    Shape s;
    for (auto item : obj) {
      if (!PyIndex_Check(item.ptr()))
        throw py::type_error("shape entries must be integers, got " + py::str(py::type::of(item)).cast<std::string>());
      s.push_back(item.cast<int64_t>());
    }
    return s;
  }
  throw py::type_error("shape must be an int or a sequence of ints, got " +
                       py::str(py::type::of(obj)).cast<std::string>());
}

py::tuple shape_to_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

DType dtype_from(const py::handle& obj) {
  if (py::isinstance<DType>(obj)) return obj.cast<DType>();
  if (py::isinstance<py::str>(obj)) {
    const std::string s = obj.cast<std::string>();
    if (s == "f32" || s == "float32" || s == "float") return DType::f32;
    if (s == "f64" || s == "float64" || s == "double") return DType::f64;
    if (s == "i32" || s == "int32") return DType::i32;
    if (s == "i64" || s == "int64" || s == "long") return DType::i64;
  }
  py::dtype dt;
  try {
    dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(obj));
  } catch (py::error_already_set&) {
    throw py::type_error("not a dtype: " + py::repr(obj).cast<std::string>());
  }
  const DType d = target_dtype(dt);
  if (!np_dtype_of(d).equal(dt))
    throw py::type_error("dtype " + py::str(dt).cast<std::string>() +
                         " is not a pianograd dtype (float32, float64, int32, int64)");
  return d;
}

Tensor tensor_from_array(const py::handle& obj) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  py::array arr = py::array::ensure(obj);
  if (!arr) {
    PyErr_Clear();
    throw py::type_error("cannot make a tensor from " + py::str(py::type::of(obj)).cast<std::string>());
  }
  const DType want = target_dtype(arr.dtype());
  const py::dtype want_np = np_dtype_of(want);
  const int flags = arr.flags();
  const bool share = arr.dtype().equal(want_np) && (flags & py::array::c_style) &&
                     (flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_) &&
                     (flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_);
  if (!share) arr = numpy().attr("array")(arr, want_np, py::arg("order") = "C", py::arg("copy") = true);
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  PyObject* keep = arr.ptr();
  Py_INCREF(keep);
  try {
    return Tensor::from_blob(arr.mutable_data(), shape, want, [keep](void*) { release_pyobject(keep); });
  } catch (...) {
    Py_DECREF(keep);
    throw;
  }
}

py::object tensor_to_array(const py::object& self) {
  const Tensor& t = self.cast<const Tensor&>();
  if (t.device().type != pianograd::DeviceType::CPU)
    throw py::type_error("numpy: tensor is on " + t.device().str() + "; copy it to the CPU first");
  const Shape& s = t.shape();
  std::vector<py::ssize_t> shape(s.begin(), s.end()), strides(s.size());
  py::ssize_t st = static_cast<py::ssize_t>(pianograd::dtype_size(t.dtype()));
  for (size_t i = s.size(); i-- > 0;) {
    strides[i] = st;
    st *= static_cast<py::ssize_t>(s[i]);
  }
  if (t.numel() == 0) return py::array(np_dtype_of(t.dtype()), shape, strides);
  t.impl()->storage->external = true;  // writable from NumPy from now on: the tape hashes it (tape.h)
  return py::array(np_dtype_of(t.dtype()), shape, strides, t.raw_data(), self);
}

Tensor as_operand(const py::handle& other, const Tensor& like) {
  if (py::isinstance<Tensor>(other)) return other.cast<Tensor>();
  if (py::isinstance<py::bool_>(other) || py::isinstance<py::int_>(other) || py::isinstance<py::float_>(other))
    return pianograd::scalar(other.cast<double>(), like.dtype());
  Tensor t = tensor_from_array(other);
  if (t.dtype() != like.dtype()) {
    pianograd::NoGrad ng;
    t = t.to(like.dtype());
  }
  return t;
}

}  // namespace pgpy
