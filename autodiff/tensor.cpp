#include "autodiff/tensor.h"

#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "autodiff/allocator.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace pianograd {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

std::string Device::str() const { return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index); }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw ShapeError("negative dimension in shape " + shape_str(s));
    n *= d;
  }
  return n;
}

Storage::~Storage() {
  if (deleter) deleter(data);
}

namespace {
// Storage and its data in one pooled block for small tensors: one allocation instead of three
// (control block + Storage, data), the bulk of a tiny op's cost. `buf` is 64-byte aligned like
// every owned buffer; no deleter, the block's destruction releases the data.
template <size_t N>
struct InlineStorage : Storage {
  alignas(64) unsigned char buf[N];
  InlineStorage() { data = buf; }
};

template <size_t N>
std::shared_ptr<Storage> allocate_inline(size_t nbytes, Device device) {
  auto s = std::allocate_shared<InlineStorage<N>>(detail::PoolAllocator<InlineStorage<N>>{});
  s->nbytes = nbytes;
  s->device = device;
  return s;
}
}  // namespace

namespace detail {
std::shared_ptr<Storage> allocate_cuda(size_t nbytes, Device device);  // autodiff/device.cpp
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  if (device.type != DeviceType::CPU) return detail::allocate_cuda(nbytes, device);
  if (nbytes <= 64) return allocate_inline<64>(nbytes, device);
  if (nbytes <= 256) return allocate_inline<256>(nbytes, device);
  if (nbytes <= 768) return allocate_inline<768>(nbytes, device);
  auto s = std::allocate_shared<Storage>(detail::PoolAllocator<Storage>{});
  if (nbytes >= detail::kLargeBlockMinBytes) {  // reused across steps instead of mmap/munmap (allocator.h)
    s->data = detail::large_alloc(nbytes);
    s->deleter = [nbytes](void* p) { detail::large_free(p, nbytes); };
    s->nbytes = nbytes;
    s->device = device;
    return s;
  }
  // 64-byte alignment: whole cache lines and aligned AVX-512 loads. Done by over-allocating with
  // malloc and rounding up rather than aligned_alloc: glibc's memalign splits chunks on every call
  // and cost ~700 instructions per tiny tensor (12% of the tape's per-op overhead, callgrind),
  // while malloc serves small sizes from its thread cache. The deleter frees the base pointer.
  void* base = std::malloc(nbytes + 63);
  if (!base) throw Error("allocate: out of memory for " + std::to_string(nbytes) + " bytes");
  s->data = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(base) + 63) & ~uintptr_t{63});
  s->deleter = [base](void*) { std::free(base); };
  s->nbytes = nbytes;
  s->device = device;
  return s;
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes, std::function<void(void*)> deleter,
                                         Device device) {
  auto s = std::allocate_shared<Storage>(detail::PoolAllocator<Storage>{});
  s->data = data;
  s->nbytes = nbytes;
  s->device = device;
  s->deleter = std::move(deleter);
  return s;
}

static std::shared_ptr<TensorImpl> new_impl() {
  return std::allocate_shared<TensorImpl>(detail::PoolAllocator<TensorImpl>{});
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return empty(Shape(shape), dtype, device); }

Tensor Tensor::empty(Shape&& shape, DType dtype, Device device) {
  auto impl = new_impl();
  impl->storage = Storage::allocate(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = std::move(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter,
                         Device device) {
  auto impl = new_impl();
  impl->storage = Storage::borrow(data, static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype),
                                  std::move(deleter), device);
  impl->storage->external = true;  // someone else's memory: writes can come from outside (tape stamps)
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

void Tensor::throw_undefined(const char* what) { throw ValueError(std::string(what) + ": tensor is undefined"); }

void Tensor::check_defined(const char* what) const {
  if (!impl_) throw_undefined(what);
}

void Tensor::check_dtype(DType want, const char* what) const {
  check_defined(what);
  if (impl_->dtype != want)
    throw DTypeError(std::string(what) + ": expected dtype " + dtype_name(want) + ", got " +
                     dtype_name(impl_->dtype));
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  int64_t a = d < 0 ? d + n : d;
  if (a < 0 || a >= n)
    throw IndexError("size: dim " + std::to_string(d) + " out of range for shape " + shape_str(shape()));
  return impl_->shape[static_cast<size_t>(a)];
}

Device Tensor::device() const {
  check_defined("device");
  return impl_->storage->device;
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  check_defined("requires_grad_");
  if (on && !is_floating(impl_->dtype))
    throw DTypeError(std::string("requires_grad_: only floating tensors can require gradients, got ") +
                     dtype_name(impl_->dtype));
  if (!on && impl_->grad_fn) throw GraphError("requires_grad_(false) on a non-leaf tensor; use detach()");
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return impl_ && !impl_->grad_fn; }

Tensor Tensor::grad() const {
  check_defined("grad");
  return impl_->grad ? Tensor(impl_->grad) : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  check_defined("set_grad");
  if (g.defined() && g.shape() != shape())
    throw ShapeError("set_grad: gradient shape " + shape_str(g.shape()) + " differs from tensor shape " +
                     shape_str(shape()));
  impl_->grad = g.impl_ptr();
}

void Tensor::zero_grad() {
  if (impl_) impl_->grad.reset();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  check_defined("grad_fn");
  return impl_->grad_fn;
}

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = new_impl();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

namespace {
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
  }
  throw DTypeError("unknown dtype");
}
}  // namespace

double Tensor::item() const {
  check_defined("item");
  if (numel() != 1) throw ValueError("item: tensor of shape " + shape_str(shape()) + " has " +
                                     std::to_string(numel()) + " elements, expected 1");
  if (device().type != DeviceType::CPU) return detach().to(kCPU).item();  // an explicit device->host copy
  return visit_dtype(dtype(), [&](auto tag) { return static_cast<double>(*static_cast<decltype(tag)*>(raw_data())); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined("to_vector");
  if (device().type != DeviceType::CPU) return detach().to(kCPU).to_vector<T>();  // explicit device->host copy
  std::vector<T> out(static_cast<size_t>(numel()));
  visit_dtype(dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* p = static_cast<const S*>(raw_data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
    return 0;
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

std::string Tensor::str() const {
  if (!impl_) return "tensor(undefined)";
  std::ostringstream os;
  const auto& sh = shape();
  const int64_t n = numel();
  std::vector<double> v = to_vector<double>();
  const bool integral = !is_floating(dtype());
  os << "tensor(";
  // Prints nested brackets; long dims are elided NumPy-style ("...") past 6 entries.
  std::function<void(size_t, int64_t)> rec = [&](size_t d, int64_t base) {
    if (sh.empty()) {
      os << v[0];
      return;
    }
    int64_t stride = 1;
    for (size_t k = d + 1; k < sh.size(); ++k) stride *= sh[k];
    os << "[";
    const int64_t len = sh[d];
    for (int64_t i = 0; i < len; ++i) {
      if (len > 6 && i == 3) {
        os << "...";
        i = len - 3;
        os << ", ";
      }
      if (d + 1 == sh.size()) {
        if (integral) os << static_cast<int64_t>(v[static_cast<size_t>(base + i)]);
        else os << std::setprecision(5) << v[static_cast<size_t>(base + i)];
      } else {
        rec(d + 1, base + i * stride);
      }
      if (i + 1 < len) os << (d + 1 == sh.size() ? ", " : ",\n       ");
    }
    os << "]";
  };
  if (n > 0 || sh.empty()) rec(0, 0);
  else os << "[]";
  os << ", shape=" << shape_str(sh) << ", dtype=" << dtype_name(dtype());
  if (device().type != DeviceType::CPU) os << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad";
  if (impl_->grad_fn) os << ", grad_fn=" << "<node>";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

Tensor Tensor::slice(int64_t d, int64_t start, int64_t stop, int64_t step) const {
  return pianograd::slice(*this, d, start, stop, step);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  check_defined("select");
  const int64_t n = dim();
  const int64_t a = d < 0 ? d + n : d;
  if (a < 0 || a >= n)
    throw IndexError("select: dim " + std::to_string(d) + " out of range for shape " + shape_str(shape()));
  const int64_t len = shape()[static_cast<size_t>(a)];
  const int64_t i = index < 0 ? index + len : index;
  if (i < 0 || i >= len)
    throw IndexError("select: index " + std::to_string(index) + " out of range for dim " + std::to_string(d) +
                     " of size " + std::to_string(len));
  return squeeze(pianograd::slice(*this, a, i, i + 1, 1), a);
}

void Tensor::note_inplace_write() const {
  check_defined("note_inplace_write");
  ++impl_->storage->version;
}

Tensor Tensor::reshape(const Shape& s) const { return pianograd::reshape(*this, s); }
Tensor Tensor::t() const {
  if (dim() != 2) throw ShapeError("t: expected a 2-D tensor, got shape " + shape_str(shape()));
  return transpose(*this, 0, 1);
}

}  // namespace pianograd
