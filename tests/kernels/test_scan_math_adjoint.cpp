// The modal adjoint as a reverse scan (kernels/common/scan_math.h), proven on the CPU: the reverse
// scan of modal_adjoint_element, run sequentially, in a log-depth tree order and in the CUDA
// backward kernel's tile order (tiles from the end, z recomputed per tile from the state at the
// previous tile's end), closed with modal_adjoint_accumulate + modal_param_grads, reproduces
// cpu::ref::modal_backward without truncation: every per-mode gradient and the gate gradient.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/scan_math.h"
#include "kernels/cpu/modal.h"

namespace pk = pianograd::kernels;

namespace {

enum class Order { sequential, tree, tiled };

template <class T>
using Elems = std::vector<pk::Affine<T>>;

// Inclusive scan of e (in the order given) by a Hillis-Steele log-depth pass: another association of
// the same compositions than the sequential loop.
template <class T>
void tree_scan(Elems<T>& e, long lo, long len) {
  for (long off = 1; off < len; off *= 2) {
    Elems<T> next(e.begin() + lo, e.begin() + lo + len);
    for (long i = off; i < len; ++i) next[i] = pk::affine_compose(e[lo + i - off], e[lo + i]);
    std::copy(next.begin(), next.end(), e.begin() + lo);
  }
}

template <class T>
void scan(Elems<T>& e, Order order, long tile) {
  const long n = static_cast<long>(e.size());
  if (order == Order::sequential) {
    for (long i = 1; i < n; ++i) e[i] = pk::affine_compose(e[i - 1], e[i]);
  } else if (order == Order::tree) {
    tree_scan(e, 0, n);
  } else {
    auto running = pk::affine_identity<T>();
    for (long base = 0; base < n; base += tile) {
      const long len = std::min(tile, n - base);
      tree_scan(e, base, len);
      const auto before = running;
      running = pk::affine_compose(running, e[base + len - 1]);
      for (long i = 0; i < len; ++i) e[base + i] = pk::affine_compose(before, e[base + i]);
    }
  }
}

template <class T>
struct Bank {
  long n = 0, rows = 0;
  std::vector<T> omega, sigma, dgain, amp, delta, gate, gy;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  pk::cpu::ModalBank<T> view() const {
    return {static_cast<long>(omega.size()), omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
            start.data(), env.data()};
  }
};

template <class T>
Bank<T> make_bank(long n) {
  Bank<T> b;
  b.n = n;
  b.rows = 2;
  b.omega = {0.1, 0.5, 1.3, 2.0, 3.0, 0.7};
  b.sigma = {1e-3, 0.0, 2e-3, 1e-4, 5e-2, 3e-3};
  b.dgain = {0.0, 0.03, 0.1, 0.0, 0.02, 0.05};
  b.amp = {1.0, 0.5, 0.0, -0.3, 0.8, 1.2};
  b.delta = {0.0, 0.25, 0.5, 0.75, 0.1, 0.9};
  b.start = {0, 10, 100, n - 1, n + 20, 333};
  b.env = {-1, 0, 1, 0, 1, 1};
  b.gate.resize(static_cast<size_t>(b.rows * n));
  b.gy.resize(static_cast<size_t>(n));
  for (long t = 0; t < n; ++t) {
    b.gate[t] = t < n / 2 ? T(0) : static_cast<T>(std::min(1.0, (t - n / 2) / 50.0));
    b.gate[n + t] = t > 3 * n / 4 ? T(1) : T(0);
    b.gy[t] = static_cast<T>(std::sin(0.013 * t) + 0.5 * std::cos(0.31 * t + 1.0));
  }
  return b;
}

struct Grads {
  std::vector<double> omega, sigma, dgain, amp, delta, gate;
};

// The backward of the whole bank by scans in `order`; the GPU kernel's algorithm when order is tiled.
template <class T>
Grads scan_backward(const Bank<T>& b, Order order, long tile) {
  const long n = b.n, count = static_cast<long>(b.omega.size());
  Grads out;
  for (auto* v : {&out.omega, &out.sigma, &out.dgain, &out.amp, &out.delta}) v->assign(static_cast<size_t>(count), 0.0);
  out.gate.assign(static_cast<size_t>(b.rows * n), 0.0);
  for (long m = 0; m < count; ++m) {
    const long s = static_cast<long>(b.start[m]);
    if (s >= n || b.amp[m] == T(0)) continue;  // silent: every gradient 0, as modal_ref
    T wr, wi, z0r, z0i, ur, ui;
    pk::modal_pole(b.sigma[m], b.omega[m], wr, wi);
    pk::modal_initial(b.amp[m], b.sigma[m], b.omega[m], b.delta[m], z0r, z0i, ur, ui);
    const T g = b.dgain[m];
    const int row = b.env[m];
    auto d_at = [&](long t) { return row < 0 || t >= n ? T(0) : b.gate[row * n + t]; };
    Elems<T> z(static_cast<size_t>(n)), a(static_cast<size_t>(n));
    for (long t = 0; t < n; ++t) z[t] = pk::modal_scan_element(t, s, wr, wi, g, t > s ? d_at(t) : T(0), z0r, z0i);
    scan(z, order, tile);
    // Reverse time: a[i] holds the element of t = n-1-i.
    for (long i = 0; i < n; ++i) {
      const long t = n - 1 - i;
      a[i] = pk::modal_adjoint_element(t, s, n, wr, wi, g, d_at(t + 1), b.gy[t]);
    }
    scan(a, order, tile);
    pk::AdjointSums<T> q{T(0), T(0), T(0)};
    for (long t = s + 1; t < n; ++t) {
      const auto& at = a[n - 1 - t];
      const T rq = pk::modal_adjoint_accumulate(at.br, at.bi, z[t].br, z[t].bi, d_at(t), q);
      if (row >= 0) out.gate[row * n + t] -= double(g * rq);
    }
    const auto& as = a[n - 1 - s];
    const auto pg = pk::modal_param_grads(q.qr, q.qi, q.qd, as.br, as.bi, z0r, z0i, ur, ui, b.sigma[m], b.omega[m],
                                          b.delta[m]);
    out.omega[m] = pg.omega;
    out.sigma[m] = pg.sigma;
    out.dgain[m] = pg.dgain;
    out.amp[m] = pg.amp;
    out.delta[m] = pg.delta;
  }
  return out;
}

template <class T>
Grads ref_backward(const Bank<T>& b) {
  const long count = static_cast<long>(b.omega.size());
  std::vector<T> go(count), gs(count), gd(count), ga(count), gl(count), gg(static_cast<size_t>(b.rows * b.n));
  pk::cpu::ModalGrads<T> gr;
  gr.omega = go.data();
  gr.sigma = gs.data();
  gr.dgain = gd.data();
  gr.amp = ga.data();
  gr.delta = gl.data();
  gr.gate = gg.data();
  pk::cpu::ModalOptions opt;
  opt.rel_threshold = 0;  // the GPU kernels' contract: no truncation
  pk::cpu::ref::modal_backward(b.view(), b.gate.data(), b.rows, b.n, b.gy.data(), gr, opt);
  auto d = [](const std::vector<T>& v) { return std::vector<double>(v.begin(), v.end()); };
  return {d(go), d(gs), d(gd), d(ga), d(gl), d(gg)};
}

// |got - want| <= tol * (1 + max |want|) per vector: the sums run over thousands of samples.
void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 1.0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol * scale) << what << " at " << i;
}

template <class T>
void check_orders(double tol) {
  for (long n : {1L, 7L, 500L, 2100L}) {
    const auto b = make_bank<T>(n);
    const Grads want = ref_backward(b);
    for (Order order : {Order::sequential, Order::tree, Order::tiled}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " order " << static_cast<int>(order));
      const Grads got = scan_backward(b, order, 256);
      expect_close(got.omega, want.omega, tol, "omega");
      expect_close(got.sigma, want.sigma, tol, "sigma");
      expect_close(got.dgain, want.dgain, tol, "dgain");
      expect_close(got.amp, want.amp, tol, "amp");
      expect_close(got.delta, want.delta, tol, "delta");
      expect_close(got.gate, want.gate, tol, "gate");
    }
  }
}

TEST(ScanMathAdjoint, ReverseScanMatchesCpuBackwardDouble) { check_orders<double>(1e-11); }
TEST(ScanMathAdjoint, ReverseScanMatchesCpuBackwardFloat) { check_orders<float>(2e-3); }

// The element itself: one reverse-scan step is exactly modal_adjoint_step.
TEST(ScanMathAdjoint, ElementIsTheAdjointStep) {
  const double wr = 0.9, wi = 0.3, g = 0.2, d = 0.5, gy = -0.7;
  double ar = 0.4, ai = -1.1;
  auto e = pk::modal_adjoint_element(5L, 2L, 10L, wr, wi, g, d, gy);
  double br = ar, bi = ai;
  pk::affine_apply(e, br, bi);
  double pr, pi;
  pk::modal_gated_pole(wr, wi, g, d, pr, pi);
  pk::modal_adjoint_step(pr, pi, gy, ar, ai);
  EXPECT_DOUBLE_EQ(br, ar);
  EXPECT_DOUBLE_EQ(bi, ai);
  // Before the start: identity; the last sample: no pole, just the injection.
  const auto before = pk::modal_adjoint_element(1L, 2L, 10L, wr, wi, g, d, gy);
  EXPECT_EQ(before.ar, 1.0);
  EXPECT_EQ(before.bi, 0.0);
  const auto last = pk::modal_adjoint_element(9L, 2L, 10L, wr, wi, g, d, gy);
  EXPECT_EQ(last.ar, 0.0);
  EXPECT_EQ(last.ai, 0.0);
  EXPECT_EQ(last.bi, gy);
}

}  // namespace
