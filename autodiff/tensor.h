// The Tensor: shape + dtype + device + shared storage, row-major contiguous (DESIGN.md §3).
// A Tensor is a cheap handle (one shared_ptr); copies alias the same data and autograd state.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/dtype.h"
#include "autodiff/errors.h"

namespace pianograd {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);

// A block of memory. Either owned (64-byte aligned, freed by us) or borrowed from elsewhere
// (a NumPy array, a DLPack capsule) with a deleter that releases the owner.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device{};
  // In-place writes so far (Tensor::note_inplace_write): the tape stamps each recorded op's inputs with
  // it and backward() refuses a stamp that changed, instead of computing a stale gradient.
  uint64_t version = 0;
  // Memory that code outside the engine can write without telling it (a NumPy array wrapped by
  // pg.tensor, a DLPack import, or a buffer exported as a NumPy view / DLPack): its stamp also hashes
  // the bytes, which catches those writes too.
  bool external = false;
  std::function<void(void*)> deleter;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device = kCPU);
  static std::shared_ptr<Storage> borrow(void* data, size_t nbytes, std::function<void(void*)> deleter,
                                         Device device = kCPU);
};

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements; nonzero only for views made by reshape of a view
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;   // accumulated by backward() on leaves
  std::shared_ptr<Node> grad_fn;      // the op that made this tensor, when recorded
  uint64_t grad_pass = 0;  // internal: id of the backward pass that allocated `grad` (may add in place)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised tensor of the given shape.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor empty(Shape&& shape, DType dtype = DType::f32, Device device = kCPU);
  // Wrap existing memory without copying; `deleter` runs when the last alias dies.
  static Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter,
                          Device device = kCPU);

  bool defined() const { return impl_ != nullptr; }
  // Accessors are inline (one test + load on the per-op hot path); the throw lives out of line.
  const Shape& shape() const {
    if (!impl_) throw_undefined("shape");
    return impl_->shape;
  }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const {
    if (!impl_) throw_undefined("dtype");
    return impl_->dtype;
  }
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // Host pointers: throw DeviceError for a CUDA tensor (host code must never dereference device
  // memory; call .cpu() first). The device test reads the Storage already loaded for `data`.
  void* raw_data() const {
    if (!impl_ || impl_->storage->device.type != DeviceType::CPU) host_access_error("data");
    return device_ptr_unchecked();
  }
  template <class T> T* data() const {
    if (!impl_ || impl_->dtype != dtype_v<T>) check_dtype(dtype_v<T>, "data");
    return static_cast<T*>(raw_data());
  }
  // Pointers valid on the tensor's own device (a CUDA address for a CUDA tensor): for the CUDA ops
  // and the copies between devices, which hand them to kernels/cuda.
  void* device_ptr() const {
    if (!impl_) throw_undefined("data");
    return device_ptr_unchecked();
  }
  template <class T> T* device_data() const {
    if (!impl_ || impl_->dtype != dtype_v<T>) check_dtype(dtype_v<T>, "data");
    return static_cast<T*>(device_ptr_unchecked());
  }
  bool is_cuda() const { return device().type == DeviceType::CUDA; }

  // Autograd state.
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  // Call after writing this tensor's memory in place (optimizers, __setitem__): a recorded op that used
  // the old values then refuses to backpropagate through them.
  void note_inplace_write() const;
  bool is_leaf() const;
  Tensor grad() const;  // undefined when none has been accumulated
  void set_grad(const Tensor& g);
  void zero_grad();     // drops the accumulated gradient
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same storage, no history
  const std::shared_ptr<Node>& grad_fn() const;

  // Values.
  double item() const;  // one-element tensors only
  template <class T> std::vector<T> to_vector() const;
  Tensor clone() const;                  // deep copy, recorded (gradient flows through)
  Tensor to(DType dtype) const;          // cast, recorded for float->float
  Tensor to(Device device) const;       // copy to another device, recorded (gradient flows back)
  Tensor cuda(int index = 0) const { return to(Device{DeviceType::CUDA, index}); }
  Tensor cpu() const { return to(kCPU); }
  Tensor contiguous() const { return *this; }
  std::string str() const;               // NumPy-like printing with shape and dtype

  // Indexing: t.slice(dim, start, stop, step) copies (row-major contiguous storage, DESIGN §3);
  // t.select(dim, i) drops the dimension.
  Tensor slice(int64_t dim, int64_t start, int64_t stop, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }

  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const { return reshape(shape); }
  Tensor flatten() const { return reshape({numel()}); }
  Tensor t() const;  // 2-D transpose

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  void check_defined(const char* what) const;
  [[noreturn]] static void throw_undefined(const char* what);
  void check_dtype(DType want, const char* what) const;
  [[noreturn]] void host_access_error(const char* what) const;
  void* device_ptr_unchecked() const {
    return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(dtype_size(impl_->dtype));
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Creation. Random tensors come from an explicit seed or the global generator (manual_seed).
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
// On a device: zeros are a device memset, other values are filled on the host and copied.
Tensor zeros(const Shape& shape, DType dtype, Device device);
Tensor ones(const Shape& shape, DType dtype, Device device);
Tensor full(const Shape& shape, double value, DType dtype, Device device);
Tensor zeros_like(const Tensor& t);  // the *_like factories keep t's device
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor scalar(double value, DType dtype = DType::f32);
Tensor scalar(double value, DType dtype, Device device);
Tensor arange(double start, double stop, double step = 1.0, DType dtype = DType::f32);
Tensor linspace(double start, double stop, int64_t num, DType dtype = DType::f32);
void manual_seed(uint64_t seed);
Tensor rand(const Shape& shape, DType dtype = DType::f32);    // U[0,1)
Tensor randn(const Shape& shape, DType dtype = DType::f32);   // N(0,1)
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::i64);
template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape);
template <class T> Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
Tensor tensor(std::initializer_list<double> values, DType dtype = DType::f32);

}  // namespace pianograd
