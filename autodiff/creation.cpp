// Tensor factories and the seeded global generator.
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>

#include "autodiff/tensor.h"
#include "kernels/cuda/device.h"

namespace pianograd {
namespace {

std::mutex g_rng_mutex;
std::mt19937_64& global_rng() {
  static std::mt19937_64 rng(0x5eed);
  return rng;
}

template <class F>
void fill_typed(Tensor& t, F&& value_at) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::f32: { auto* p = t.data<float>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(value_at(i)); break; }
    case DType::f64: { auto* p = t.data<double>(); for (int64_t i = 0; i < n; ++i) p[i] = value_at(i); break; }
    case DType::i32: { auto* p = t.data<int32_t>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(value_at(i)); break; }
    case DType::i64: { auto* p = t.data<int64_t>(); for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(value_at(i)); break; }
  }
}

}  // namespace

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  if (value == 0.0) {
    std::memset(t.raw_data(), 0, t.nbytes());
  } else {
    fill_typed(t, [value](int64_t) { return value; });
  }
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  if (device.type == DeviceType::CPU) return full(shape, value, dtype);
  if (value != 0.0) return full(shape, value, dtype).to(device);
  Tensor t = Tensor::empty(shape, dtype, device);
  kernels::cuda::memset_zero_async(t.device_ptr(), t.nbytes(), kernels::cuda::current_stream());
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
// The *_like factories keep t's device (backward() seeds a CUDA loss with ones_like on the GPU).
Tensor zeros_like(const Tensor& t) { return full(t.shape(), 0.0, t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return full(t.shape(), 1.0, t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype(), t.device()); }
Tensor scalar(double value, DType dtype) { return full({}, value, dtype); }
Tensor scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor arange(double start, double stop, double step, DType dtype) {
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw ValueError("arange: step must be nonzero and bounds finite");
  const double count = std::ceil((stop - start) / step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = Tensor::empty({n}, dtype);
  fill_typed(t, [&](int64_t i) { return start + static_cast<double>(i) * step; });
  return t;
}

Tensor linspace(double start, double stop, int64_t num, DType dtype) {
  if (num < 0) throw ValueError("linspace: num must be >= 0, got " + std::to_string(num));
  Tensor t = Tensor::empty({num}, dtype);
  const double step = num > 1 ? (stop - start) / static_cast<double>(num - 1) : 0.0;
  fill_typed(t, [&](int64_t i) { return i + 1 == num && num > 1 ? stop : start + static_cast<double>(i) * step; });
  return t;
}

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  global_rng().seed(seed);
}

Tensor rand(const Shape& shape, DType dtype) {
  if (!is_floating(dtype)) throw DTypeError(std::string("rand: expected a floating dtype, got ") + dtype_name(dtype));
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  Tensor t = Tensor::empty(shape, dtype);
  fill_typed(t, [&](int64_t) { return dist(global_rng()); });
  return t;
}

Tensor randn(const Shape& shape, DType dtype) {
  if (!is_floating(dtype)) throw DTypeError(std::string("randn: expected a floating dtype, got ") + dtype_name(dtype));
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  std::normal_distribution<double> dist(0.0, 1.0);
  Tensor t = Tensor::empty(shape, dtype);
  fill_typed(t, [&](int64_t) { return dist(global_rng()); });
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype) {
  if (high <= low) throw ValueError("randint: high (" + std::to_string(high) + ") must exceed low (" +
                                    std::to_string(low) + ")");
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  std::uniform_int_distribution<int64_t> dist(low, high - 1);
  Tensor t = Tensor::empty(shape, dtype);
  fill_typed(t, [&](int64_t) { return static_cast<double>(dist(global_rng())); });
  return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw ShapeError("from_vector: " + std::to_string(values.size()) + " values do not fill shape " +
                     shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype_v<T>);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);

Tensor tensor(std::initializer_list<double> values, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, dtype);
  auto it = values.begin();
  fill_typed(t, [&](int64_t i) { return *(it + i); });
  return t;
}

}  // namespace pianograd

#include "kernels/cuda/device.h"
namespace pianograd {
bool cuda_available() { return kernels::cuda::available(); }
}  // namespace pianograd
