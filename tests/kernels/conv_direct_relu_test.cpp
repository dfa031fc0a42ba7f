// The fused ReLU epilogue of the direct convolution's forward row kernel: every ISA against the scalar
// reference with relu = true (all three register-block tails: 3-vector tiles, single vectors, scalars),
// and the reference itself equal to max(unfused, 0).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/isa.h"

namespace pianograd::kernels::cpu {
namespace {

template <class T>
void check_relu_rows(double tol) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  auto vec = [&](size_t n) {
    std::vector<T> v(n);
    for (auto& e : v) e = static_cast<T>(u(rng));
    return v;
  };
  for (long cout : {1L, 4L, 7L})
    for (long L : {5L, 37L, 157L}) {
      const long C = 3, ntaps = 3, xs = L + 40;
      const long off[3] = {0, 13, 26};
      const auto x = vec(static_cast<size_t>(C * xs)), w = vec(static_cast<size_t>(cout * C * ntaps));
      const auto bias = vec(static_cast<size_t>(cout));
      std::vector<T> plain(static_cast<size_t>(cout * L)), fused_ref(plain.size());
      ref::taps_forward<T>(x.data(), xs, C, off, ntaps, w.data(), cout, plain.data(), L, L, bias.data());
      ref::taps_forward<T>(x.data(), xs, C, off, ntaps, w.data(), cout, fused_ref.data(), L, L, bias.data(), true);
      long clamped = 0;
      for (size_t i = 0; i < plain.size(); ++i) {
        ASSERT_EQ(fused_ref[i], std::max(plain[i], T(0)));
        clamped += plain[i] < T(0);
      }
      EXPECT_GT(clamped, 0);
      for (Isa isa : {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512}) {
        if (!isa_supported(isa)) continue;
        IsaScope scope(isa);
        std::vector<T> y(plain.size(), T(5));
        taps_forward<T>(x.data(), xs, C, off, ntaps, w.data(), cout, y.data(), L, L, bias.data(), true);
        for (size_t i = 0; i < y.size(); ++i) {
          ASSERT_GE(y[i], T(0)) << isa_name(isa);
          ASSERT_NEAR(y[i], fused_ref[i], tol) << isa_name(isa) << " cout " << cout << " L " << L << " at " << i;
        }
      }
    }
}

TEST(ConvDirectRelu, MatchesReferenceEveryIsaFloat) { check_relu_rows<float>(2e-5); }
TEST(ConvDirectRelu, MatchesReferenceEveryIsaDouble) { check_relu_rows<double>(1e-12); }

}  // namespace
}  // namespace pianograd::kernels::cpu
