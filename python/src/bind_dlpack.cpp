// DLPack exchange (Debian's libdlpack-dev header, DLPack 0.6 "dltensor" capsules — what NumPy,
// PyTorch and JAX accept and produce when no max_version >= 1 is requested). CPU tensors export as
// kDLCPU, CUDA tensors as kDLCUDA (device memory, no copy); CUDA capsules import the same way.
//   producer: Tensor.__dlpack__ / __dlpack_device__ (the capsule owns a Tensor handle);
//   consumer: from_dlpack(obj) wraps the producer's memory; its deleter runs when the last alias dies.
#include <dlpack/dlpack.h>

#include <cstring>
#include <string>

#include "autodiff/device.h"
#include "autodiff/tape.h"
#include "bind_common.h"

// DLPack 1.0's versioned managed tensor, which Debian's 0.6 header predates. Its layout is fixed by
// the DLPack ABI (dlpack.h >= 1.0); NumPy needs it to import a *writable* array (legacy capsules
// come in read-only), so we produce it when the consumer asks with max_version >= (1, 0).
struct PgDLPackVersion {
  uint32_t major, minor;
};
struct PgDLManagedTensorVersioned {
  PgDLPackVersion version;
  void* manager_ctx;
  void (*deleter)(PgDLManagedTensorVersioned* self);
  uint64_t flags;  // bit 0: read-only, bit 1: is a copy
  DLTensor dl_tensor;
};

namespace pgpy {
namespace pg = pianograd;
namespace {

constexpr const char* kVersionedCapsule = "dltensor_versioned";

constexpr const char* kCapsule = "dltensor";
constexpr const char* kUsedCapsule = "used_dltensor";

struct Export {
  DLManagedTensor mt{};
  PgDLManagedTensorVersioned vmt{};
  Tensor t;
  std::vector<int64_t> shape, strides;
};

DLDataType dl_dtype(DType d) {
  switch (d) {
    case DType::f32: return {kDLFloat, 32, 1};
    case DType::f64: return {kDLFloat, 64, 1};
    case DType::i32: return {kDLInt, 32, 1};
    case DType::i64: return {kDLInt, 64, 1};
  }
  return {kDLFloat, 32, 1};
}

DType from_dl_dtype(DLDataType t) {
  if (t.lanes == 1 && t.code == kDLFloat && t.bits == 32) return DType::f32;
  if (t.lanes == 1 && t.code == kDLFloat && t.bits == 64) return DType::f64;
  if (t.lanes == 1 && t.code == kDLInt && t.bits == 32) return DType::i32;
  if (t.lanes == 1 && t.code == kDLInt && t.bits == 64) return DType::i64;
  throw pg::DTypeError("from_dlpack: unsupported DLPack dtype (code " + std::to_string(t.code) + ", bits " +
                       std::to_string(t.bits) + ", lanes " + std::to_string(t.lanes) +
                       "); supported: float32, float64, int32, int64");
}

// A capsule nobody consumed still owns its tensor: free it (keeping any pending Python error).
void capsule_destructor(PyObject* cap) {
  if (!PyCapsule_IsValid(cap, kCapsule)) return;  // consumed (renamed) or not ours
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kCapsule));
  if (mt && mt->deleter) mt->deleter(mt);
  PyErr_Restore(type, value, tb);
}

void versioned_capsule_destructor(PyObject* cap) {
  if (!PyCapsule_IsValid(cap, kVersionedCapsule)) return;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  auto* mt = static_cast<PgDLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersionedCapsule));
  if (mt && mt->deleter) mt->deleter(mt);
  PyErr_Restore(type, value, tb);
}

// (kDLCPU, 0) or (kDLCUDA, index): the DLPack device of a tensor.
std::pair<int, int> dl_device_of(const Tensor& t) {
  if (t.is_cuda()) return {static_cast<int>(kDLCUDA), t.device().index};
  return {static_cast<int>(kDLCPU), 0};
}

py::capsule to_dlpack(const Tensor& src, std::optional<bool> copy, bool versioned, const py::object& stream) {
  if (src.is_cuda()) {
    // DLPack's stream contract: the data must be ready for work the consumer queues on `stream`
    // (None/-1: the consumer synchronises itself). Our kernels run on the current stream; waiting
    // for the device is the simple, always-correct way to order them before any consumer stream.
    const bool skip = !stream.is_none() && stream.cast<int64_t>() == -1;
    if (!skip) pg::cuda::synchronize();
  }
  auto* ex = new Export;
  {
    pg::NoGrad ng;
    ex->t = copy.value_or(false) ? src.detach().clone() : src.detach();
  }
  ex->t.impl()->storage->external = true;  // the consumer may write it: the tape hashes it (tape.h)
  ex->shape = ex->t.shape();
  ex->strides.resize(ex->shape.size());
  int64_t st = 1;
  for (size_t i = ex->shape.size(); i-- > 0;) {
    ex->strides[i] = st;
    st *= ex->shape[i];
  }
  DLTensor& dl = ex->mt.dl_tensor;
  dl.data = ex->t.numel() ? ex->t.device_ptr() : nullptr;
  const auto dev = dl_device_of(ex->t);
  dl.device = {static_cast<DLDeviceType>(dev.first), dev.second};
  dl.ndim = static_cast<int>(ex->shape.size());
  dl.dtype = dl_dtype(ex->t.dtype());
  dl.shape = ex->shape.data();
  dl.strides = ex->strides.data();
  dl.byte_offset = 0;
  ex->mt.manager_ctx = ex;
  ex->mt.deleter = [](DLManagedTensor* self) { delete static_cast<Export*>(self->manager_ctx); };
  PyObject* cap = nullptr;
  if (versioned) {
    ex->vmt.version = {1, 0};
    ex->vmt.manager_ctx = ex;
    ex->vmt.deleter = [](PgDLManagedTensorVersioned* self) { delete static_cast<Export*>(self->manager_ctx); };
    ex->vmt.flags = copy.value_or(false) ? 2u : 0u;
    ex->vmt.dl_tensor = dl;
    cap = PyCapsule_New(&ex->vmt, kVersionedCapsule, versioned_capsule_destructor);
  } else {
    cap = PyCapsule_New(&ex->mt, kCapsule, capsule_destructor);
  }
  if (!cap) {
    delete ex;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(cap);
}

// Copies a strided DLPack view into a fresh row-major tensor (strides in elements).
Tensor copy_strided(const DLTensor& dl, const Shape& shape, DType dtype) {
  Tensor out = Tensor::empty(shape, dtype);
  const int64_t n = out.numel();
  if (n == 0) return out;
  const size_t esz = pg::dtype_size(dtype);
  const char* base = static_cast<const char*>(dl.data) + dl.byte_offset;
  char* dst = static_cast<char*>(out.raw_data());
  const size_t nd = shape.size();
  std::vector<int64_t> idx(nd, 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    for (size_t d = 0; d < nd; ++d) off += idx[d] * dl.strides[d];
    std::memcpy(dst + static_cast<size_t>(k) * esz, base + off * static_cast<int64_t>(esz), esz);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

Tensor from_capsule(const py::capsule& cap) {
  if (!PyCapsule_IsValid(cap.ptr(), kCapsule))
    throw py::value_error("from_dlpack: expected an unconsumed 'dltensor' capsule (a capsule can be consumed once)");
  auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), kCapsule));
  const DLTensor& dl = mt->dl_tensor;
  const bool on_cuda = dl.device.device_type == kDLCUDA;
  if (dl.device.device_type != kDLCPU && dl.device.device_type != kDLCUDAHost && !on_cuda)
    throw py::buffer_error("from_dlpack: only CPU and CUDA memory can be imported (device type " +
                           std::to_string(dl.device.device_type) + ")");
  const pg::Device device = on_cuda ? pg::Device{pg::DeviceType::CUDA, dl.device.device_id} : pg::kCPU;
  if (on_cuda) pg::require_device(device, "from_dlpack");  // DeviceError without CUDA or that device
  const DType dtype = from_dl_dtype(dl.dtype);
  Shape shape(dl.shape, dl.shape + dl.ndim);
  bool compact = true;
  if (dl.strides) {
    int64_t st = 1;
    for (int d = dl.ndim; d-- > 0;) {
      if (shape[static_cast<size_t>(d)] != 1 && dl.strides[d] != st) compact = false;
      st *= shape[static_cast<size_t>(d)];
    }
  }
  if (!compact && on_cuda)
    throw py::buffer_error("from_dlpack: a non-contiguous CUDA tensor cannot be imported; make it contiguous first");
  Tensor t;
  if (compact) {
    void* data = static_cast<char*>(dl.data) + dl.byte_offset;
    t = Tensor::from_blob(data, shape, dtype, [mt](void*) {
      if (mt->deleter) mt->deleter(mt);  // producers take the GIL themselves where they need it
    }, device);
  } else {
    t = copy_strided(dl, shape, dtype);
  }
  PyCapsule_SetName(cap.ptr(), kUsedCapsule);
  if (!compact && mt->deleter) mt->deleter(mt);
  return t;
}

}  // namespace

void bind_dlpack(py::module_& m, py::class_<Tensor>& cls) {
  cls.def("__dlpack__", [](const Tensor& t, const py::object& stream, const py::object& max_version,
                           const py::object& dl_device, std::optional<bool> copy) {
    if (!dl_device.is_none()) {
      auto dev = dl_device.cast<std::pair<int, int>>();
      if (dev != dl_device_of(t))
        throw py::buffer_error("__dlpack__: cannot export a tensor on " + t.device().str() + " to device (" +
                               std::to_string(dev.first) + ", " + std::to_string(dev.second) +
                               "); move it with .to() first");
    }
    // A consumer that speaks DLPack >= 1.0 gets a versioned (writable) capsule, others the legacy one.
    bool versioned = false;
    if (!max_version.is_none()) versioned = max_version.cast<std::pair<int, int>>().first >= 1;
    return to_dlpack(t, copy, versioned, stream);
  }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
     py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
     "A DLPack 'dltensor' capsule viewing this tensor (copy=True exports a copy).");
  cls.def("__dlpack_device__", [](const Tensor& t) {
    const auto dev = dl_device_of(t);
    return py::make_tuple(dev.first, dev.second);
  }, "(device_type, device_id) as DLPack numbers: (1, 0) for the CPU, (2, N) for cuda:N.");
  m.def("from_dlpack", [](const py::object& obj) -> Tensor {
    if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>().detach();
    if (py::isinstance<py::capsule>(obj)) return from_capsule(obj.cast<py::capsule>());
    if (!py::hasattr(obj, "__dlpack__"))
      throw py::type_error("from_dlpack: object of type " + py::str(py::type::of(obj)).cast<std::string>() +
                           " has no __dlpack__ method");
    if (py::hasattr(obj, "__dlpack_device__")) {
      auto dev = obj.attr("__dlpack_device__")().cast<std::pair<int, int>>();
      if (dev.first == kDLCUDA) {
        pg::require_device(pg::Device{pg::DeviceType::CUDA, dev.second}, "from_dlpack");
        // The producer orders its work before ours on the stream we name: the current one (the
        // legacy default stream is DLPack's 1).
        void* s = pg::cuda::current_stream();
        const int64_t stream = s ? static_cast<int64_t>(reinterpret_cast<intptr_t>(s)) : 1;
        return from_capsule(obj.attr("__dlpack__")(py::arg("stream") = stream).cast<py::capsule>());
      }
      if (dev.first != kDLCPU && dev.first != kDLCUDAHost)
        throw py::buffer_error("from_dlpack: only CPU and CUDA tensors can be imported (device type " +
                               std::to_string(dev.first) + ")");
    }
    return from_capsule(obj.attr("__dlpack__")().cast<py::capsule>());
  }, py::arg("x"), R"doc(
A Tensor viewing the memory of any DLPack producer (NumPy, PyTorch, JAX; or a 'dltensor' capsule)
without copying, on the CPU or (kDLCUDA, e.g. a torch.cuda tensor) on the GPU. Non-contiguous CPU
inputs are copied into a row-major tensor; non-contiguous CUDA inputs are refused.)doc");
}

}  // namespace pgpy
