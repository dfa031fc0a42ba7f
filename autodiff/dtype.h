// Element types and devices of a Tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace pianograd {

enum class DType : uint8_t { f32, f64, i32, i64 };

constexpr size_t dtype_size(DType d) {
  return (d == DType::f32 || d == DType::i32) ? 4 : 8;
}
constexpr bool is_floating(DType d) { return d == DType::f32 || d == DType::f64; }
const char* dtype_name(DType d);

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <class T> inline constexpr DType dtype_v = dtype_of<T>::value;

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device&) const = default;
  std::string str() const;
};
inline constexpr Device kCPU{};
inline constexpr Device kCUDA{DeviceType::CUDA, 0};
// "cpu", "cuda" (= cuda:0) or "cuda:N"; ValueError naming the string otherwise (autodiff/device.cpp).
Device parse_device(const std::string& spec);

// True when the library was built with CUDA and a device is present (kernels/cuda).
bool cuda_available();

}  // namespace pianograd
