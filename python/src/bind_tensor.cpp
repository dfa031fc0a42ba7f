// The Tensor class, DType, Device, creation functions and the autograd switches.
#include <pybind11/numpy.h>

#include <mutex>
#include <string>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "bind_common.h"

namespace pgpy {
namespace pg = pianograd;
void bind_cuda(py::module_& m);  // bind_cuda.cpp: the pianograd.cuda submodule
namespace {

py::object not_implemented() { return py::reinterpret_borrow<py::object>(Py_NotImplemented); }

// Binary operator body: converts the other operand (number, array, Tensor), or answers
// NotImplemented so Python tries the reflected operator / raises its own TypeError.
template <class F>
py::object binop(const Tensor& self, const py::object& other, F&& f) {
  Tensor o;
  try {
    o = as_operand(other, self);
  } catch (py::type_error&) {
    return not_implemented();
  } catch (pg::DTypeError&) {
    return not_implemented();
  }
  // A Python number or array operand follows a CUDA tensor to its device (an explicit conversion of
  // the Python value, as for its dtype); Tensor operands on another device are the op's error.
  if (!py::isinstance<Tensor>(other) && o.device() != self.device()) o = o.to(self.device());
  Tensor r;
  {
    MaybeRelease rel(std::max(self.numel(), o.numel()));
    r = f(self, o);
  }
  return py::cast(std::move(r));  // a Python object is made only with the GIL held
}

std::string tensor_repr(const Tensor& t) {
  std::string s = t.str();
  if (t.defined() && t.grad_fn()) {
    const std::string tag = "grad_fn=<node>";
    if (auto pos = s.find(tag); pos != std::string::npos)
      s.replace(pos, tag.size(), std::string("grad_fn=<") + t.grad_fn()->op + ">");
  }
  return s;
}

pg::Device device_from(const py::handle& obj) {
  if (py::isinstance<pg::Device>(obj)) return obj.cast<pg::Device>();
  return pg::parse_device(py::str(obj).cast<std::string>());  // ValueError naming the string otherwise
}

// The optional device= keyword of the creation functions: None means the CPU.
pg::Device device_or_cpu(const py::object& obj) { return obj.is_none() ? pg::kCPU : device_from(obj); }
Tensor on_device(Tensor t, const py::object& device) {
  const pg::Device d = device_or_cpu(device);
  return d == pg::kCPU ? t : t.to(d);
}

// NumPy views the tensor's memory, which a CUDA tensor does not have on the host.
void require_host(const Tensor& t, const char* what) {
  if (t.defined() && t.device().type != pg::DeviceType::CPU)
    throw py::type_error(std::string(what) + ": tensor is on " + t.device().str() +
                         "; call .cpu() first to copy it to host memory");
}

// One backward at a time: concurrent backward passes over graphs sharing leaves would race on the
// leaves' gradients. The GIL is released meanwhile so other Python threads keep running.
std::mutex g_backward_mutex;

}  // namespace

void bind_tensor(py::module_& m) {
  py::enum_<DType>(m, "DType", "Element type of a Tensor.")
      .value("float32", DType::f32)
      .value("float64", DType::f64)
      .value("int32", DType::i32)
      .value("int64", DType::i64)
      .def_property_readonly("itemsize", [](DType d) { return pg::dtype_size(d); })
      .def_property_readonly("is_floating_point", [](DType d) { return pg::is_floating(d); })
      .def_property_readonly("numpy", [](DType d) {
        return py::dtype(std::string(d == DType::f32 ? "float32" : d == DType::f64 ? "float64"
                                     : d == DType::i32 ? "int32" : "int64"));
      }, "The matching numpy.dtype.");
  m.def("as_dtype", &dtype_from, py::arg("dtype"),
        "A DType from a DType, a name ('float32', 'f32', 'int64'...) or a NumPy dtype.");

  py::class_<pg::Device>(m, "Device", "Where a tensor's memory lives: 'cpu' or 'cuda:N'.")
      .def(py::init([](const py::object& o) { return device_from(o); }), py::arg("spec"))
      .def_property_readonly("type", [](const pg::Device& d) {
        return d.type == pg::DeviceType::CPU ? "cpu" : "cuda";
      })
      .def_readonly("index", &pg::Device::index)
      .def("__str__", &pg::Device::str)
      .def("__repr__", [](const pg::Device& d) { return "device('" + d.str() + "')"; })
      .def("__eq__", [](const pg::Device& a, const py::object& b) {
        try {
          return a == device_from(b);
        } catch (...) {
          return false;
        }
      })
      .def("__hash__", [](const pg::Device& d) { return static_cast<int>(d.type) * 1000 + d.index; });

  py::class_<Tensor> cls(m, "Tensor", py::buffer_protocol(), R"doc(
An n-dimensional array with reverse-mode autodiff: shape + dtype + device + shared storage, row-major.

Tensor(data) wraps a NumPy array (or anything numpy.asarray accepts) without copying when it is
C-contiguous, aligned, writeable and of a supported dtype (float32, float64, int32, int64); the
array stays alive as long as the tensor. np.asarray(t) and t.numpy() view the tensor's memory.
)doc");
  cls.def(py::init([](const py::object& data) { return tensor_from_array(data); }), py::arg("data"))
      .def_buffer([](Tensor& t) -> py::buffer_info {
        require_host(t, "buffer");
        const Shape& s = t.shape();
        const auto item = static_cast<py::ssize_t>(pg::dtype_size(t.dtype()));
        std::vector<py::ssize_t> strides(s.size());
        py::ssize_t st = item;
        for (size_t i = s.size(); i-- > 0;) {
          strides[i] = st;
          st *= static_cast<py::ssize_t>(s[i]);
        }
        std::string fmt = t.dtype() == DType::f32   ? py::format_descriptor<float>::format()
                          : t.dtype() == DType::f64 ? py::format_descriptor<double>::format()
                          : t.dtype() == DType::i32 ? py::format_descriptor<int32_t>::format()
                                                    : py::format_descriptor<int64_t>::format();
        static char dummy[8] = {};  // a valid pointer for empty tensors (NULL confuses consumers)
        void* ptr = t.numel() ? t.raw_data() : dummy;
        return py::buffer_info(ptr, item, fmt, static_cast<py::ssize_t>(s.size()),
                               std::vector<py::ssize_t>(s.begin(), s.end()), strides);
      })
      .def_property_readonly("shape", [](const Tensor& t) { return shape_to_tuple(t.shape()); },
                             "The shape as a tuple of ints.")
      .def_property_readonly("ndim", &Tensor::dim, "Number of dimensions.")
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("device", &Tensor::device)
      .def_property_readonly("itemsize", [](const Tensor& t) { return pg::dtype_size(t.dtype()); })
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def("numel", &Tensor::numel, "Number of elements.")
      .def("dim", &Tensor::dim, "Number of dimensions.")
      .def("size", [](const Tensor& t, std::optional<int64_t> d) -> py::object {
        if (d) return py::int_(t.size(*d));
        return shape_to_tuple(t.shape());
      }, py::arg("dim") = py::none(), "The shape, or the length of one dimension.")
      .def_property("requires_grad", &Tensor::requires_grad,
                    [](Tensor& t, bool on) { t.requires_grad_(on); },
                    "Whether backward() accumulates a gradient into this (leaf) tensor.")
      .def("requires_grad_", [](Tensor& t, bool on) { return t.requires_grad_(on); },
           py::arg("requires_grad") = true, "Sets requires_grad in place and returns the tensor.")
      .def_property("grad", [](const Tensor& t) -> std::optional<Tensor> {
        Tensor g = t.grad();
        if (!g.defined()) return std::nullopt;
        return g;
      }, [](Tensor& t, std::optional<Tensor> g) { t.set_grad(g ? *g : Tensor()); },
      "The gradient accumulated by backward(), or None.")
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property_readonly("grad_fn", [](const Tensor& t) -> std::optional<std::string> {
        if (!t.grad_fn()) return std::nullopt;
        return std::string(t.grad_fn()->op);
      }, "Name of the op that recorded this tensor, or None for leaves.")
      .def("zero_grad", &Tensor::zero_grad, "Drops the accumulated gradient (grad becomes None).")
      .def("backward", [](const Tensor& t, std::optional<Tensor> grad, bool retain_graph) {
        py::gil_scoped_release rel;
        std::lock_guard<std::mutex> lock(g_backward_mutex);
        t.backward(grad ? *grad : Tensor(), retain_graph);
      }, py::arg("gradient") = py::none(), py::arg("retain_graph") = false, R"doc(
Accumulates d(self)/d(leaf) into every leaf's .grad that requires it. `gradient` (the seed) may be
omitted for one-element tensors. The GIL is released while the graph runs.)doc")
      .def("detach", &Tensor::detach, "Same memory, no history: the result does not require grad.")
      .def("item", [](const Tensor& t) -> py::object {
        double v = t.item();
        if (pg::is_floating(t.dtype())) return py::float_(v);
        return py::int_(static_cast<int64_t>(v));
      }, "The value of a one-element tensor as a Python number.")
      .def("numpy", [](const py::object& self) {
        require_host(self.cast<const Tensor&>(), "numpy");
        return tensor_to_array(self);
      }, "A NumPy array viewing this tensor's memory (no copy; no gradient tracking). CPU tensors only.")
      // NumPy ignores a failing buffer export and would wrap a CUDA tensor as a 0-d object array;
      // __array__, its next resort, raises instead. CPU tensors never get here (the buffer succeeds).
      .def("__array__", [](const py::object& self, const py::object& dtype, const py::object&) {
        require_host(self.cast<const Tensor&>(), "numpy conversion");
        py::object a = tensor_to_array(self);
        return dtype.is_none() ? a : a.attr("astype")(dtype);
      }, py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("tolist", [](const Tensor& t) {  // values, not a view: a CUDA tensor is copied explicitly
        return tensor_to_array(py::cast(t.device().type == pg::DeviceType::CPU ? t : t.cpu())).attr("tolist")();
      })
      .def("cuda", [](const Tensor& t, int index) { return t.cuda(index); }, py::arg("index") = 0,
           "A copy on cuda:index (recorded); DeviceError (RuntimeError) when CUDA is absent.")
      .def("cpu", &Tensor::cpu, "A copy in host memory (recorded); the tensor itself when already there.")
      .def_property_readonly("is_cuda", &Tensor::is_cuda)
      .def("clone", &Tensor::clone, "Deep copy (recorded: gradients flow through).")
      .def("to", [](const Tensor& t, const py::object& target) {
        if (py::isinstance<pg::Device>(target)) return t.to(target.cast<pg::Device>());
        if (py::isinstance<py::str>(target)) {
          const std::string s = target.cast<std::string>();
          if (s == "cpu" || s.rfind("cuda", 0) == 0) return t.to(device_from(target));
        }
        return t.to(dtype_from(target));
      }, py::arg("target"), "Cast to a dtype or move to a device ('cpu', 'cuda:0').")
      .def("astype", [](const Tensor& t, const py::object& d) { return t.to(dtype_from(d)); }, py::arg("dtype"))
      .def("float", [](const Tensor& t) { return t.to(DType::f32); })
      .def("double", [](const Tensor& t) { return t.to(DType::f64); })
      .def("long", [](const Tensor& t) { return t.to(DType::i64); })
      .def("int", [](const Tensor& t) { return t.to(DType::i32); })
      .def("reshape", [](const Tensor& t, const py::args& a) {
        return t.reshape(a.size() == 1 ? shape_from(a[0]) : shape_from(a));
      }, "Same data in a new shape (shares memory; one -1 allowed).")
      .def("view", [](const Tensor& t, const py::args& a) {
        return t.reshape(a.size() == 1 ? shape_from(a[0]) : shape_from(a));
      })
      .def("flatten", &Tensor::flatten)
      .def_property_readonly("T", &Tensor::t, "2-D transpose.")
      .def("t", &Tensor::t, "2-D transpose.")
      .def("__getitem__", &tensor_getitem)
      .def("__setitem__", [](const py::object& self, const py::object& key, const py::object& value) {
        const Tensor& t = self.cast<const Tensor&>();
        if (t.requires_grad() || t.grad_fn())
          throw py::value_error("__setitem__: in-place assignment to a tensor that is part of a graph "
                                "(requires_grad or recorded); detach() it first");
        py::object arr = tensor_to_array(self);
        py::object v = py::isinstance<Tensor>(value) ? tensor_to_array(value) : value;
        arr.attr("__setitem__")(key, v);
        t.note_inplace_write();
      }, "In-place assignment through a NumPy view (tensors outside the graph only).")
      .def("__len__", [](const Tensor& t) {
        if (t.dim() == 0) throw py::type_error("len() of a 0-d tensor");
        return t.shape()[0];
      })
      .def("__bool__", [](const Tensor& t) {
        if (t.numel() != 1)
          throw py::value_error("the truth value of a tensor with " + std::to_string(t.numel()) +
                                " elements is ambiguous");
        return t.item() != 0.0;
      })
      .def("__float__", [](const Tensor& t) { return t.item(); })
      .def("__int__", [](const Tensor& t) { return static_cast<int64_t>(t.item()); })
      .def("__repr__", &tensor_repr)
      .def("__str__", &tensor_repr)
      .def("__add__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::add(x, y); }); })
      .def("__radd__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::add(y, x); }); })
      .def("__sub__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::sub(x, y); }); })
      .def("__rsub__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::sub(y, x); }); })
      .def("__mul__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::mul(x, y); }); })
      .def("__rmul__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::mul(y, x); }); })
      .def("__truediv__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::div(x, y); }); })
      .def("__rtruediv__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::div(y, x); }); })
      .def("__pow__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::pow(x, y); }); })
      .def("__rpow__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::pow(y, x); }); })
      .def("__matmul__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::matmul(x, y); }); })
      .def("__rmatmul__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::matmul(y, x); }); })
      .def("__eq__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::eq(x, y); }); })
      .def("__ne__", [](const Tensor& a, const py::object& b) {
        return binop(a, b, [](auto& x, auto& y) { return pg::add(pg::neg(pg::eq(x, y)), 1.0); });
      })
      .def("__lt__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::lt(x, y); }); })
      .def("__le__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::le(x, y); }); })
      .def("__gt__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::gt(x, y); }); })
      .def("__ge__", [](const Tensor& a, const py::object& b) { return binop(a, b, [](auto& x, auto& y) { return pg::ge(x, y); }); })
      .def("__hash__", [](const Tensor& t) { return reinterpret_cast<std::uintptr_t>(t.impl()); })
      .def("__neg__", [](const Tensor& t) { return pg::neg(t); })
      .def("__pos__", [](const Tensor& t) { return t; })
      .def("__abs__", [](const Tensor& t) { return pg::abs(t); });
  // NumPy defers `ndarray + tensor` to Tensor.__radd__ (result stays a Tensor) when this is higher
  // than its own priority.
  cls.attr("__array_priority__") = 1000;
  py::implicitly_convertible<py::array, Tensor>();
  bind_dlpack(m, cls);

  // Autograd switches (thread-local in the engine, like Python's own thread state).
  m.def("is_grad_enabled", &pg::grad_enabled, "Whether ops record onto the tape in this thread.");
  m.def("set_grad_enabled", &pg::set_grad_enabled, py::arg("enabled"),
        "Turns recording on/off for this thread (pianograd.no_grad() is the context manager).");

  // Creation.
  auto dt = [](const py::object& d) { return dtype_from(d); };
  auto leaf = [](Tensor t, bool rg) {
    if (rg) t.requires_grad_(true);
    return t;
  };
  // device=None is the CPU; 'cuda', 'cuda:N' or a Device allocate there (RuntimeError without CUDA).
  m.def("zeros", [=](const py::object& shape, const py::object& dtype, bool rg, const py::object& device) {
    return leaf(pg::zeros(shape_from(shape), dt(dtype), device_or_cpu(device)), rg);
  }, py::arg("shape"), py::arg("dtype") = DType::f32, py::arg("requires_grad") = false,
  py::arg("device") = py::none(), "A tensor of zeros.");
  m.def("ones", [=](const py::object& shape, const py::object& dtype, bool rg, const py::object& device) {
    return leaf(pg::ones(shape_from(shape), dt(dtype), device_or_cpu(device)), rg);
  }, py::arg("shape"), py::arg("dtype") = DType::f32, py::arg("requires_grad") = false,
  py::arg("device") = py::none(), "A tensor of ones.");
  m.def("full", [=](const py::object& shape, double value, const py::object& dtype, bool rg,
                    const py::object& device) {
    return leaf(pg::full(shape_from(shape), value, dt(dtype), device_or_cpu(device)), rg);
  }, py::arg("shape"), py::arg("fill_value"), py::arg("dtype") = DType::f32, py::arg("requires_grad") = false,
  py::arg("device") = py::none(), "A tensor filled with fill_value.");
  m.def("empty", [=](const py::object& shape, const py::object& dtype, const py::object& device) {
    return Tensor::empty(shape_from(shape), dt(dtype), device_or_cpu(device));
  }, py::arg("shape"), py::arg("dtype") = DType::f32, py::arg("device") = py::none(), "An uninitialised tensor.");
  m.def("zeros_like", &pg::zeros_like, py::arg("t"));
  m.def("ones_like", &pg::ones_like, py::arg("t"));
  m.def("full_like", &pg::full_like, py::arg("t"), py::arg("fill_value"));
  m.def("scalar", [=](double v, const py::object& dtype, const py::object& device) {
    return pg::scalar(v, dt(dtype), device_or_cpu(device));
  }, py::arg("value"), py::arg("dtype") = DType::f32, py::arg("device") = py::none(), "A 0-d tensor.");
  m.def("arange", [=](double start, std::optional<double> stop, double step, const py::object& dtype,
                      const py::object& device) {
    if (!stop) return on_device(pg::arange(0.0, start, step, dt(dtype)), device);
    return on_device(pg::arange(start, *stop, step, dt(dtype)), device);
  }, py::arg("start"), py::arg("stop") = py::none(), py::arg("step") = 1.0, py::arg("dtype") = DType::f32,
  py::arg("device") = py::none(), "Evenly spaced values in [start, stop) (arange(n) = [0, n)).");
  m.def("linspace", [=](double a, double b, int64_t n, const py::object& dtype, const py::object& device) {
    return on_device(pg::linspace(a, b, n, dt(dtype)), device);
  }, py::arg("start"), py::arg("stop"), py::arg("num"), py::arg("dtype") = DType::f32,
  py::arg("device") = py::none(), "num evenly spaced values from start to stop inclusive.");
  m.def("manual_seed", &pg::manual_seed, py::arg("seed"), "Seeds the global generator of rand/randn/randint.");
  // Random tensors are drawn on the host (one seeded generator for both devices) and copied.
  m.def("rand", [=](const py::object& shape, const py::object& dtype, bool rg, const py::object& device) {
    return leaf(on_device(pg::rand(shape_from(shape), dt(dtype)), device), rg);
  }, py::arg("shape"), py::arg("dtype") = DType::f32, py::arg("requires_grad") = false,
  py::arg("device") = py::none(), "Uniform on [0, 1).");
  m.def("randn", [=](const py::object& shape, const py::object& dtype, bool rg, const py::object& device) {
    return leaf(on_device(pg::randn(shape_from(shape), dt(dtype)), device), rg);
  }, py::arg("shape"), py::arg("dtype") = DType::f32, py::arg("requires_grad") = false,
  py::arg("device") = py::none(), "Standard normal.");
  m.def("randint", [=](int64_t low, int64_t high, const py::object& shape, const py::object& dtype,
                       const py::object& device) {
    return on_device(pg::randint(low, high, shape_from(shape), dt(dtype)), device);
  }, py::arg("low"), py::arg("high"), py::arg("shape"), py::arg("dtype") = DType::i64,
  py::arg("device") = py::none(), "Uniform integers in [low, high).");
  m.def("from_numpy", &tensor_from_array, py::arg("array"),
        "Tensor sharing the array's memory when its layout allows (else a converted copy).");
  bind_cuda(m);
}

}  // namespace pgpy
