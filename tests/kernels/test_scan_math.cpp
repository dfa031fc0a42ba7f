// The scan algebra of the CUDA modal kernel (kernels/common/scan_math.h), proven on the CPU: the
// affine compose operator is associative, and scanning the modal bank's elements (sequentially, and
// in the CUDA kernel's tile-by-tile order with a running prefix and a log-depth tile scan) reproduces
// the direct recurrence and the CPU reference kernel without truncation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/common/scan_math.h"
#include "kernels/cpu/modal.h"

namespace pk = pianograd::kernels;

namespace {

template <class T>
pk::Affine<T> random_affine(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> d(-1.5, 1.5);
  return {static_cast<T>(d(rng)), static_cast<T>(d(rng)), static_cast<T>(d(rng)), static_cast<T>(d(rng))};
}

template <class T>
double affine_dist(const pk::Affine<T>& x, const pk::Affine<T>& y) {
  return std::fabs(double(x.ar) - y.ar) + std::fabs(double(x.ai) - y.ai) + std::fabs(double(x.br) - y.br) +
         std::fabs(double(x.bi) - y.bi);
}

TEST(ScanMath, ComposeIsAssociativeAndHasIdentity) {
  std::mt19937_64 rng(7);
  const auto id = pk::affine_identity<double>();
  for (int trial = 0; trial < 1000; ++trial) {
    const auto a = random_affine<double>(rng), b = random_affine<double>(rng), c = random_affine<double>(rng);
    const auto left = pk::affine_compose(pk::affine_compose(a, b), c);
    const auto right = pk::affine_compose(a, pk::affine_compose(b, c));
    EXPECT_LT(affine_dist(left, right), 1e-13) << "trial " << trial;
    EXPECT_EQ(affine_dist(pk::affine_compose(id, a), a), 0.0);
    EXPECT_EQ(affine_dist(pk::affine_compose(a, id), a), 0.0);
  }
}

TEST(ScanMath, ComposeIsApplyingInOrder) {
  // (e1 ∘ e2)(z) = e2(e1(z)): the operator means "first e1, then e2", and it is not commutative.
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 100; ++trial) {
    const auto e1 = random_affine<double>(rng), e2 = random_affine<double>(rng);
    double zr = 0.3, zi = -0.7, wr = zr, wi = zi;
    pk::affine_apply(e1, zr, zi);
    pk::affine_apply(e2, zr, zi);
    pk::affine_apply(pk::affine_compose(e1, e2), wr, wi);
    EXPECT_NEAR(zr, wr, 1e-14);
    EXPECT_NEAR(zi, wi, 1e-14);
  }
  const pk::Affine<double> a{2, 0, 1, 0}, b{3, 0, 5, 0};
  EXPECT_GT(affine_dist(pk::affine_compose(a, b), pk::affine_compose(b, a)), 1.0);
}

// One mode: sigma, omega, dgain, amp, delta, start, with a gate row that rises mid-buffer.
struct Mode {
  double omega, sigma, dgain, amp, delta;
  long start;
};

std::vector<double> test_gate(long n) {
  std::vector<double> d(static_cast<size_t>(n));
  for (long t = 0; t < n; ++t) d[t] = t < n / 2 ? 0.0 : std::min(1.0, (t - n / 2) / 50.0);
  return d;
}

// z[t] of one mode by the direct recurrence (modal_initial, modal_step), 0 before start.
template <class T>
std::vector<T> direct_states_im(const Mode& md, const std::vector<T>& gate, long n) {
  std::vector<T> im(static_cast<size_t>(n), T(0));
  T wr, wi, zr, zi, ur, ui;
  pk::modal_pole(T(md.sigma), T(md.omega), wr, wi);
  pk::modal_initial(T(md.amp), T(md.sigma), T(md.omega), T(md.delta), zr, zi, ur, ui);
  for (long t = md.start; t < n; ++t) {
    if (t > md.start) {
      T pr, pi;
      pk::modal_gated_pole(wr, wi, T(md.dgain), gate[t], pr, pi);
      pk::modal_step(pr, pi, zr, zi);
    }
    im[t] = zi;
  }
  return im;
}

template <class T>
std::vector<pk::Affine<T>> mode_elements(const Mode& md, const std::vector<T>& gate, long n) {
  T wr, wi, z0r, z0i, ur, ui;
  pk::modal_pole(T(md.sigma), T(md.omega), wr, wi);
  pk::modal_initial(T(md.amp), T(md.sigma), T(md.omega), T(md.delta), z0r, z0i, ur, ui);
  std::vector<pk::Affine<T>> e(static_cast<size_t>(n));
  for (long t = 0; t < n; ++t) e[t] = pk::modal_scan_element(t, md.start, wr, wi, T(md.dgain), gate[t], z0r, z0i);
  return e;
}

// The CUDA kernel's order: tiles of `tile` elements; within a tile a Hillis-Steele log-depth
// inclusive scan (another association than the sequential one); tiles chained by a running prefix.
template <class T>
std::vector<pk::Affine<T>> tiled_scan(std::vector<pk::Affine<T>> e, long tile) {
  auto running = pk::affine_identity<T>();
  for (long base = 0; base < static_cast<long>(e.size()); base += tile) {
    const long len = std::min<long>(tile, static_cast<long>(e.size()) - base);
    for (long off = 1; off < len; off *= 2) {
      std::vector<pk::Affine<T>> next(e.begin() + base, e.begin() + base + len);
      for (long i = off; i < len; ++i) next[i] = pk::affine_compose(e[base + i - off], e[base + i]);
      std::copy(next.begin(), next.end(), e.begin() + base);
    }
    const auto before = running;
    running = pk::affine_compose(running, e[base + len - 1]);
    for (long i = 0; i < len; ++i) e[base + i] = pk::affine_compose(before, e[base + i]);
  }
  return e;
}

template <class T>
void check_mode_scan(double tol) {
  const long n = 3000;
  const auto gate_d = test_gate(n);
  const std::vector<T> gate(gate_d.begin(), gate_d.end());
  const Mode modes[] = {{0.2, 1e-3, 0.0, 1.0, 0.0, 0},
                        {0.05, 2e-4, 0.02, 0.7, 0.37, 123},
                        {2.9, 0.0, 0.05, -0.4, 0.9, 1024},
                        {1.0, 5e-3, 0.01, 2.0, 0.5, n - 1}};
  for (const Mode& md : modes) {
    const auto want = direct_states_im<T>(md, gate, n);
    auto seq = mode_elements<T>(md, gate, n);
    for (long t = 1; t < n; ++t) seq[t] = pk::affine_compose(seq[t - 1], seq[t]);
    const auto tiled = tiled_scan(mode_elements<T>(md, gate, n), 256);
    for (long t = 0; t < n; ++t) {
      ASSERT_NEAR(double(seq[t].bi), double(want[t]), tol) << "sequential scan, start " << md.start << " t " << t;
      ASSERT_NEAR(double(tiled[t].bi), double(want[t]), tol) << "tiled scan, start " << md.start << " t " << t;
      if (t < md.start) {
        ASSERT_EQ(tiled[t].bi, T(0));
      }
    }
  }
}

TEST(ScanMath, ModalScanMatchesRecurrenceDouble) { check_mode_scan<double>(1e-12); }
TEST(ScanMath, ModalScanMatchesRecurrenceFloat) { check_mode_scan<float>(2e-4); }

// The sum over a bank of the scanned Im z equals cpu::ref::modal_forward without truncation, which is
// the contract of kernels::cuda::modal_forward.
TEST(ScanMath, BankScanMatchesCpuReferenceWithoutTruncation) {
  const long n = 2000, rows = 2;
  std::vector<double> gate(static_cast<size_t>(rows * n));
  const auto g0 = test_gate(n);
  for (long t = 0; t < n; ++t) {
    gate[t] = g0[t];
    gate[n + t] = t > 1500 ? 1.0 : 0.0;
  }
  std::vector<double> omega{0.1, 0.5, 1.3, 2.0, 3.0}, sigma{1e-3, 0.0, 2e-3, 1e-4, 5e-2}, dgain{0.0, 0.03, 0.1, 0.0, 0.02},
      amp{1.0, 0.5, 0.0, -0.3, 0.8}, delta{0.0, 0.25, 0.5, 0.75, 0.1};
  std::vector<std::int64_t> start{0, 10, 100, 1999, 2500};
  std::vector<std::int32_t> env{-1, 0, 1, 0, 1};
  pk::cpu::ModalBank<double> bank{5, omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
                                  start.data(), env.data()};
  pk::cpu::ModalOptions opt;
  opt.rel_threshold = 0;
  std::vector<double> want(static_cast<size_t>(n));
  pk::cpu::ref::modal_forward(bank, gate.data(), rows, n, want.data(), opt);

  std::vector<double> got(static_cast<size_t>(n), 0.0);
  for (long m = 0; m < bank.count; ++m) {
    if (start[m] >= n || amp[m] == 0) continue;
    std::vector<double> g(static_cast<size_t>(n), 0.0);
    if (env[m] >= 0) std::copy(gate.begin() + env[m] * n, gate.begin() + (env[m] + 1) * n, g.begin());
    const Mode md{omega[m], sigma[m], dgain[m], amp[m], delta[m], static_cast<long>(start[m])};
    const auto s = tiled_scan(mode_elements<double>(md, g, n), 1024);
    for (long t = 0; t < n; ++t) got[t] += s[t].bi;
  }
  for (long t = 0; t < n; ++t) ASSERT_NEAR(got[t], want[t], 1e-11) << "t " << t;
}

}  // namespace
