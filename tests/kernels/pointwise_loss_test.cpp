// The vectorised pointwise losses (kernels/cpu/pointwise_loss.h) of every ISA against the scalar
// reference (kernels/common/loss_math.h per element): values and partials, per-element and shared
// weights, lengths that leave a scalar tail, logits far into both saturated tails.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/pointwise_loss.h"

namespace pianograd::kernels::cpu {
namespace {

template <class T>
void check_losses(double tol) {
  const long n = 1031;  // not a multiple of any SIMD width
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> a(n), b(n), w(n);
  for (long i = 0; i < n; ++i) {
    a[i] = static_cast<T>(i % 97 == 0 ? 90 * u(rng) : 6 * u(rng));  // some logits deep in the tails
    b[i] = static_cast<T>(i % 3 == 0 ? (i % 2) : 0.5 + 0.5 * u(rng));
    w[i] = static_cast<T>(1.5 + u(rng));
  }
  for (PointwiseLoss kind : {PointwiseLoss::mse, PointwiseLoss::l1, PointwiseLoss::bce_with_logits})
    for (long ws : {0L, 1L})
      for (bool weighted : {false, true}) {
        const T* wp = weighted ? w.data() : nullptr;
        std::vector<T> e0(n), a0(n), b0(n), w0(n);
        ref::pointwise_loss<T>(kind, a.data(), b.data(), wp, ws, e0.data(), a0.data(), b0.data(), w0.data(), n);
        for (Isa isa : {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512}) {
          if (!isa_supported(isa)) continue;
          IsaScope scope(isa);
          std::vector<T> e(n), ga(n), gb(n), gw(n);
          pointwise_loss<T>(kind, a.data(), b.data(), wp, ws, e.data(), ga.data(), gb.data(), gw.data(), n);
          const std::string what = std::string(isa_name(isa)) + " kind " + std::to_string(static_cast<int>(kind)) +
                                   " ws " + std::to_string(ws) + (weighted ? " weighted" : "");
          for (long i = 0; i < n; ++i) {
            const auto near = [&](T x, T y, const char* which) {
              EXPECT_NEAR(x, y, tol * (1 + std::fabs(static_cast<double>(y)))) << what << " " << which << " at " << i;
            };
            near(e[i], e0[i], "loss");
            near(ga[i], a0[i], "d/da");
            near(gb[i], b0[i], "d/db");
            near(gw[i], w0[i], "d/dw");
          }
        }
        // Null partials are not written (and not needed).
        std::vector<T> e(n);
        pointwise_loss<T>(kind, a.data(), b.data(), wp, ws, e.data(), nullptr, nullptr, nullptr, n);
        for (long i = 0; i < n; ++i) EXPECT_NEAR(e[i], e0[i], tol * (1 + std::fabs(static_cast<double>(e0[i]))));
      }
}

TEST(PointwiseLoss, EveryIsaMatchesReferenceFloat) { check_losses<float>(2e-6); }
TEST(PointwiseLoss, EveryIsaMatchesReferenceDouble) { check_losses<double>(1e-13); }

}  // namespace
}  // namespace pianograd::kernels::cpu
