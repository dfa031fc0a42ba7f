// Harmonic stacking kernels (kernels/cpu/harmonic_stack.h): the row-copy implementations against the
// element-wise references (small and threaded sizes, shifts of every sign and out of range), and the
// backward as the exact adjoint of the forward: <y(x), gy> = <x, gx(gy)>.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/cpu/harmonic_stack.h"
#include "random_vec.h"

namespace pianograd::kernels::cpu {
namespace {

using testing::random_vec;

template <class T>
void check(long B, long R, long L, const std::vector<long>& shift) {
  const long S = static_cast<long>(shift.size());
  const auto x = random_vec<T>(static_cast<size_t>(B * R * L), 1);
  const auto gy = random_vec<T>(static_cast<size_t>(B * S * R * L), 2);
  std::vector<T> y(gy.size(), T(9)), y_ref(gy.size(), T(-9)), gx(x.size(), T(9)), gx_ref(x.size(), T(-9));
  harmonic_stack_forward<T>(x.data(), B, R, L, shift.data(), S, y.data());
  ref::harmonic_stack_forward<T>(x.data(), B, R, L, shift.data(), S, y_ref.data());
  EXPECT_EQ(y, y_ref) << "forward, L " << L;  // pure copies: bit-exact
  harmonic_stack_backward<T>(gy.data(), B, R, L, shift.data(), S, gx.data());
  ref::harmonic_stack_backward<T>(gy.data(), B, R, L, shift.data(), S, gx_ref.data());
  for (size_t i = 0; i < gx.size(); ++i) ASSERT_NEAR(gx[i], gx_ref[i], 1e-5) << "backward at " << i;
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < y.size(); ++i) lhs += static_cast<double>(y[i]) * static_cast<double>(gy[i]);
  for (size_t i = 0; i < x.size(); ++i) rhs += static_cast<double>(x[i]) * static_cast<double>(gx[i]);
  EXPECT_NEAR(lhs, rhs, 1e-4 * (1 + std::abs(lhs))) << "adjoint";
}

TEST(HarmonicStackKernel, MatchesReferenceSmall) {
  check<float>(2, 3, 11, {0, 4, -3, 11, -11, 25, 10});
  check<double>(1, 1, 1, {0, 1, -1});
  check<double>(3, 2, 17, {-16, 16, 5});
}

TEST(HarmonicStackKernel, MatchesReferenceTranscriberSize) {  // above kParallelGrain: the threaded path
  check<float>(2, 61, 264, {-12, 0, 12, 19, 24, 28, 31, 34});
  check<double>(2, 61, 264, {-12, 0, 12, 19, 24, 28, 31, 34});
}

}  // namespace
}  // namespace pianograd::kernels::cpu
