// Cached cuFFT plans shared by the .cu files that transform (stft.cu, fft_convolve.cu): creating a plan
// costs far more than running it, so each host thread keeps its plans, keyed by (device, size, count,
// type) — a plan belongs to the device that was current when it was created. The plans own no work
// area (auto-allocation off): each execution binds one from the caching allocator on its stream, so
// idle cached plans hold no device memory and a plan is safe to run on any stream.
#pragma once
#include <cufft.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/device.h"
#include "kernels/cuda/device_scratch.cuh"

namespace pianograd::kernels::cuda {

inline void check_fft(cufftResult r, const char* what) {
  if (r != CUFFT_SUCCESS) throw std::runtime_error(std::string("cuFFT: ") + what + ": error " + std::to_string(r));
}

// A batched 1-D transform of size n over `count` contiguous signals / spectra.
class FftPlan {
 public:
  FftPlan(long n, long count, cufftType type) {
    check_fft(cufftCreate(&h_), "cufftCreate");
    check_fft(cufftSetAutoAllocation(h_, 0), "cufftSetAutoAllocation");
    long long dims[1] = {n};
    const cufftResult r = cufftMakePlanMany64(h_, 1, dims, nullptr, 1, 0, nullptr, 1, 0, type, count, &work_);
    if (r != CUFFT_SUCCESS) {
      cufftDestroy(h_);
      check_fft(r, "cufftMakePlanMany64");
    }
  }
  ~FftPlan() { cufftDestroy(h_); }
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;

  // The plan bound to a stream and a work area that lives as long as this object: use it within one
  // full expression, e.g. exec_r2c(plan.bind(s).handle, in, out) — freeing the work area right after the
  // launch is safe, the caching allocator hands it out again only in stream order.
  struct Bound {
    DeviceScratch<unsigned char> work;
    cufftHandle handle;
    Bound(cufftHandle h, std::size_t bytes, cudaStream_t s) : work(bytes, s), handle(h) {
      check_fft(cufftSetStream(h, s), "cufftSetStream");
      check_fft(cufftSetWorkArea(h, work.p), "cufftSetWorkArea");
    }
  };
  Bound bind(cudaStream_t s) { return Bound(h_, work_, s); }

 private:
  cufftHandle h_ = 0;
  std::size_t work_ = 0;
};

// An inline function's thread_local is one cache per thread across all translation units. Bounded: a
// training loop uses a handful of geometries; beyond 64 the least recently used plan goes.
inline FftPlan& fft_plan_for(long n, long count, cufftType type) {
  using Key = std::tuple<int, long, long, int>;
  struct Entry {
    std::unique_ptr<FftPlan> plan;
    unsigned long long used = 0;
  };
  thread_local std::map<Key, Entry> cache;
  thread_local unsigned long long tick = 0;
  const Key key = std::make_tuple(current_device(), n, count, static_cast<int>(type));
  auto it = cache.find(key);
  if (it == cache.end()) {
    if (cache.size() >= 64) {
      auto lru = cache.begin();
      for (auto e = cache.begin(); e != cache.end(); ++e)
        if (e->second.used < lru->second.used) lru = e;
      cache.erase(lru);
    }
    it = cache.emplace(key, Entry{std::make_unique<FftPlan>(n, count, type), 0}).first;
  }
  it->second.used = ++tick;
  return *it->second.plan;
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
