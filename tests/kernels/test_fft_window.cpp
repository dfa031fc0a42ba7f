// fft_convolve_window against the direct convolution: windows at the start, the middle and the end of
// the full result, sizes on both sides of the direct/FFT threshold, float and double, and the reuse of
// this thread's cached plans and scratch across calls of different sizes.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/fft.h"

namespace pianograd::kernels::cpu {
namespace {

template <class T>
void check_windows(T tol) {
  std::mt19937 rng(5);
  std::normal_distribution<T> dist;
  for (auto [nx, nh] : {std::pair{7L, 5L}, std::pair{3000L, 3000L}, std::pair{5000L, 700L}, std::pair{300L, 4100L}}) {
    std::vector<T> x(static_cast<size_t>(nx)), h(static_cast<size_t>(nh));
    for (auto& v : x) v = dist(rng);
    for (auto& v : h) v = dist(rng);
    const long ny = nx + nh - 1;
    std::vector<T> ref(static_cast<size_t>(ny));
    direct_convolve(x.data(), nx, h.data(), nh, ref.data());
    // The whole result, a prefix, the gradient-of-IR window (offset nx-1) and a short tail.
    for (auto [first, count] : {std::pair{0L, ny}, std::pair{0L, nx}, std::pair{nx - 1, std::min(nh, nx)},
                                std::pair{ny - 3, 3L}}) {
      std::vector<T> y(static_cast<size_t>(count), T(-99));
      fft_convolve_window(x.data(), nx, h.data(), nh, first, count, y.data());
      for (long i = 0; i < count; ++i)
        ASSERT_NEAR(y[static_cast<size_t>(i)], ref[static_cast<size_t>(first + i)], tol)
            << nx << "x" << nh << " window " << first << "+" << count << " at " << i;
    }
  }
}

TEST(FFTConvolveWindow, FloatMatchesDirect) { check_windows<float>(3e-3f); }
TEST(FFTConvolveWindow, DoubleMatchesDirect) { check_windows<double>(1e-9); }

TEST(FFTConvolveWindow, RejectsWindowOutsideResult) {
  std::vector<float> x(100, 1.f), h(100, 1.f), y(200);
  EXPECT_THROW(fft_convolve_window(x.data(), 100, h.data(), 100, 150, 50, y.data()), std::invalid_argument);
  EXPECT_THROW(fft_convolve_window(x.data(), 100, h.data(), 100, -1, 5, y.data()), std::invalid_argument);
}

TEST(CachedPlan, SameObjectPerSizeOnOneThread) {
  const RealFFT<float>& a = cached_plan<float>(1024);
  const RealFFT<float>& b = cached_plan<float>(1024);
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.size(), 1024);
  EXPECT_EQ(cached_plan<double>(96).size(), 96);
}

}  // namespace
}  // namespace pianograd::kernels::cpu
