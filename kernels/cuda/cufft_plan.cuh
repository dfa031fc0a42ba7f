// Cached cuFFT plans shared by the .cu files that transform (stft.cu, fft_convolve.cu): creating a plan
// costs far more than running it, so each host thread keeps its plans, keyed by (device, size, count,
// type) — a plan belongs to the device that was current when it was created.
#pragma once
#include <cufft.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {

inline void check_fft(cufftResult r, const char* what) {
  if (r != CUFFT_SUCCESS) throw std::runtime_error(std::string("cuFFT: ") + what + ": error " + std::to_string(r));
}

// A batched 1-D transform of size n over `count` contiguous signals / spectra.
class FftPlan {
 public:
  FftPlan(long n, long count, cufftType type) {
    int dims[1] = {static_cast<int>(n)};
    check_fft(cufftPlanMany(&h_, 1, dims, nullptr, 1, 0, nullptr, 1, 0, type, static_cast<int>(count)),
              "cufftPlanMany");
  }
  ~FftPlan() { cufftDestroy(h_); }
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;
  cufftHandle get(cudaStream_t s) {
    check_fft(cufftSetStream(h_, s), "cufftSetStream");
    return h_;
  }

 private:
  cufftHandle h_ = 0;
};

// An inline function's thread_local is one cache per thread across all translation units.
inline FftPlan& fft_plan_for(long n, long count, cufftType type) {
  thread_local std::map<std::tuple<int, long, long, int>, std::unique_ptr<FftPlan>> cache;
  const auto key = std::make_tuple(current_device(), n, count, static_cast<int>(type));
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  if (cache.size() >= 64) cache.clear();  // bounded: a training loop uses a handful of geometries
  return *cache.emplace(key, std::make_unique<FftPlan>(n, count, type)).first->second;
}

// Real <-> half-complex transforms by the operand's type; the complex side is interleaved (re, im) pairs.
inline void exec_r2c(cufftHandle h, float* in, void* out) {
  check_fft(cufftExecR2C(h, in, static_cast<cufftComplex*>(out)), "cufftExecR2C");
}
inline void exec_r2c(cufftHandle h, double* in, void* out) {
  check_fft(cufftExecD2Z(h, in, static_cast<cufftDoubleComplex*>(out)), "cufftExecD2Z");
}
inline void exec_c2r(cufftHandle h, void* in, float* out) {
  check_fft(cufftExecC2R(h, static_cast<cufftComplex*>(in), out), "cufftExecC2R");
}
inline void exec_c2r(cufftHandle h, void* in, double* out) {
  check_fft(cufftExecZ2D(h, static_cast<cufftDoubleComplex*>(in), out), "cufftExecZ2D");
}
template <class T> constexpr cufftType r2c_type() { return std::is_same_v<T, float> ? CUFFT_R2C : CUFFT_D2Z; }
template <class T> constexpr cufftType c2r_type() { return std::is_same_v<T, float> ? CUFFT_C2R : CUFFT_Z2D; }

}  // namespace pianograd::kernels::cuda
