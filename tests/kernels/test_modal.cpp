// The modal-bank kernel (kernels/cpu/modal.h): closed form, SIMD vs scalar reference, reference
// backward vs float64 central differences, fast backward vs reference backward, checkpoint
// invariance, truncation consistency, threads and validation.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/modal.h"

namespace {
using namespace pianograd::kernels;
using namespace pianograd::kernels::cpu;

template <class T>
struct Bank {
  std::vector<T> omega, sigma, dgain, amp, delta;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  std::vector<T> gate;  // rows x n
  long rows = 0, n = 0;
  ModalBank<T> view() const {
    return {static_cast<long>(omega.size()), omega.data(), sigma.data(), dgain.data(), amp.data(),
            delta.data(), start.data(), env.data()};
  }
  void add(T w, T s, T g, T a, T d, long st, int e) {
    omega.push_back(w); sigma.push_back(s); dgain.push_back(g); amp.push_back(a); delta.push_back(d);
    start.push_back(st); env.push_back(e);
  }
};

// A random bank: odd sizes, scattered starts (some shared, as a note's partials share one), gates
// that rise smoothly after a release somewhere in the window. notes = true: modes come in notes (a
// shared start and gate row, so SIMD batches share a row) and gates ramp linearly to a plateau
// (blocks of constant non-zero gate).
template <class T>
Bank<T> random_bank(long modes, long n, long rows, unsigned seed, T sigma_max = T(2e-3), bool notes = false) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Bank<T> b;
  b.rows = rows;
  b.n = n;
  std::vector<long> note_starts;
  for (long r = 0; r < 4; ++r) note_starts.push_back(static_cast<long>(u(rng) * n * 0.6));
  for (long m = 0; m < modes; ++m) {
    const long note = notes ? m * 4 / modes : m % 4;
    const long st = (notes || u(rng) < 0.7) ? note_starts[note] : static_cast<long>(u(rng) * n * 0.8);
    const int env = notes ? static_cast<int>(note % rows) : static_cast<int>(m % (rows + 1)) - 1;
    b.add(T(0.02 + 3.0 * u(rng)), T(sigma_max * u(rng)), T(0.05 * u(rng)), T(2 * u(rng) - 1), T(u(rng)), st, env);
  }
  b.gate.assign(static_cast<size_t>(rows * n), T(0));
  for (long r = 0; r < rows; ++r) {
    const long rel = static_cast<long>((0.3 + 0.6 * u(rng)) * n);
    const double tau = 5 + 40 * u(rng);
    for (long t = rel; t < n; ++t)
      b.gate[r * n + t] = notes ? T(0.6 * std::min(1.0, (t - rel) / (3 * tau))) : T(1 - std::exp(-(t - rel) / tau));
  }
  return b;
}

template <class T>
std::vector<T> fwd_ref(const Bank<T>& b, const ModalOptions& o) {
  std::vector<T> y(static_cast<size_t>(b.n));
  ref::modal_forward(b.view(), b.gate.data(), b.rows, b.n, y.data(), o);
  return y;
}
template <class T>
std::vector<T> fwd(const Bank<T>& b, const ModalOptions& o, ModalTape<T>* tape = nullptr) {
  std::vector<T> y(static_cast<size_t>(b.n));
  modal_forward(b.view(), b.gate.data(), b.rows, b.n, y.data(), o, tape);
  return y;
}

template <class T>
struct Grads {
  std::vector<T> omega, sigma, dgain, amp, delta, gate;
  explicit Grads(const Bank<T>& b)
      : omega(b.omega.size()), sigma(omega.size()), dgain(omega.size()), amp(omega.size()), delta(omega.size()),
        gate(b.gate.size()) {}
  ModalGrads<T> view() {
    return {omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(), gate.data()};
  }
  std::vector<const std::vector<T>*> all() const { return {&omega, &sigma, &dgain, &amp, &delta, &gate}; }
};

std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::sse2, Isa::avx2, Isa::avx512})
    if (isa_supported(i)) out.push_back(i);
  return out;
}

template <class T>
double max_abs_diff(const std::vector<T>& a, const std::vector<T>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}
template <class T>
double max_abs(const std::vector<T>& a) {
  double m = 0;
  for (T v : a) m = std::max(m, std::fabs(double(v)));
  return m;
}

TEST(Modal, UndampedModeMatchesClosedForm) {
  const long n = 3000, s = 17;
  const double w = 0.37, sg = 4e-4, a = 0.8, dl = 0.3;
  auto check = [&](auto zero, double tol, long upto, const char* what) {
    using T = decltype(zero);
    Bank<T> b;
    b.n = n;
    b.add(T(w), T(sg), T(0.5), T(a), T(dl), s, -1);
    ModalOptions o;
    o.rel_threshold = 0;
    std::vector<std::vector<T>> outs{fwd_ref(b, o)};
    for (Isa isa : simd_isas()) {
      IsaScope scope(isa);
      outs.push_back(fwd(b, o));
    }
    for (const auto& y : outs) {
      double err = 0;
      for (long t = 0; t < upto; ++t) {
        const double tt = double(t - s) + dl;
        const double want = t < s ? 0.0 : a * std::exp(-sg * tt) * std::sin(w * tt);
        err = std::max(err, std::fabs(double(y[t]) - want));
      }
      EXPECT_LT(err / a, tol) << what;
    }
  };
  check(double(0), 1e-5, n, "double, 3000 samples");
  check(float(0), 1e-5, 200, "float, first 200 samples");
  check(float(0), 5e-4, n, "float, 3000 samples (rounding of the recurrence grows ~ n eps)");
}

template <class T>
void simd_vs_ref(double tol, double rel_thr) {
  for (unsigned seed : {1u, 2u, 3u, 4u}) {
    const Bank<T> b = random_bank<T>(37 + 2 * seed, 1500 + 37 * seed, 3, seed, T(2e-3), seed % 2 == 0);
    ModalOptions o;
    o.rel_threshold = rel_thr;
    const std::vector<T> want = fwd_ref(b, o);
    ASSERT_GT(max_abs(want), 0.1);
    for (Isa isa : simd_isas()) {
      IsaScope scope(isa);
      EXPECT_LT(max_abs_diff(fwd(b, o), want), tol) << isa_name(isa) << " seed " << seed;
    }
  }
}
TEST(Modal, SimdForwardMatchesReferenceDouble) { simd_vs_ref<double>(1e-10, 1e-3); }
TEST(Modal, SimdForwardMatchesReferenceFloat) { simd_vs_ref<float>(2e-3, 1e-3); }
TEST(Modal, SimdForwardMatchesReferenceNoTruncation) { simd_vs_ref<double>(1e-10, 0); }

// Loss = sum gy[n] y[n]; its gradient by central differences of the reference forward.
double loss(const Bank<double>& b, const std::vector<double>& gy, const ModalOptions& o) {
  const std::vector<double> y = fwd_ref(b, o);
  double l = 0;
  for (size_t i = 0; i < y.size(); ++i) l += gy[i] * y[i];
  return l;
}

void gradcheck_ref(Bank<double> b, const ModalOptions& o, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<double> gy(static_cast<size_t>(b.n));
  for (double& v : gy) v = nd(rng);
  Grads<double> g(b);
  ref::modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), g.view(), o);
  const double h = 1e-6;
  auto fd = [&](double& x) {
    const double x0 = x;
    x = x0 + h;
    const double lp = loss(b, gy, o);
    x = x0 - h;
    const double lm = loss(b, gy, o);
    x = x0;
    return (lp - lm) / (2 * h);
  };
  struct Kind { const char* name; std::vector<double>* in; const std::vector<double>* grad; };
  const std::vector<Kind> kinds{{"omega", &b.omega, &g.omega}, {"sigma", &b.sigma, &g.sigma},
                                {"dgain", &b.dgain, &g.dgain}, {"amp", &b.amp, &g.amp},
                                {"delta", &b.delta, &g.delta}, {"gate", &b.gate, &g.gate}};
  for (const Kind& k : kinds) {
    double scale = 1, worst = 0;
    for (size_t i = 0; i < k.in->size(); ++i) {
      const double num = fd((*k.in)[i]);
      scale = std::max(scale, std::fabs(num));
      worst = std::max(worst, std::fabs(num - (*k.grad)[i]));
    }
    EXPECT_LT(worst / scale, 1e-6) << k.name;
  }
}

TEST(Modal, ReferenceBackwardMatchesCentralDifferences) {
  Bank<double> b = random_bank<double>(5, 160, 2, 7, 0.02);
  for (double& g : b.dgain) g *= 4;  // make the damper matter within 160 samples
  ModalOptions o;
  o.rel_threshold = 0;
  gradcheck_ref(b, o, 11);
}

TEST(Modal, ReferenceBackwardMatchesCentralDifferencesWithTruncation) {
  // Fast decays so modes end inside the window; a 1e-6 step does not move an end.
  Bank<double> b = random_bank<double>(5, 400, 2, 9, 0.08);
  ModalOptions o;
  o.rel_threshold = 1e-2;
  const std::vector<double> y = fwd_ref(b, o);
  ModalOptions none;
  none.rel_threshold = 0;
  ASSERT_GT(max_abs_diff(y, fwd_ref(b, none)), 0) << "truncation must be active in this test";
  gradcheck_ref(b, o, 12);
}

template <class T>
void fast_vs_ref_backward(double tol, double rel_thr, long checkpoint) {
  for (unsigned seed : {4u, 5u, 6u, 7u}) {
    const Bank<T> b = random_bank<T>(41 + 20 * seed, 1300 + 11 * seed, 3, seed, T(2e-3), seed % 2 == 1);
    ModalOptions o;
    o.rel_threshold = rel_thr;
    o.checkpoint = checkpoint;
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd;
    std::vector<T> gy(static_cast<size_t>(b.n));
    for (T& v : gy) v = T(nd(rng));
    Grads<T> want(b);
    ref::modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), want.view(), o);
    for (Isa isa : simd_isas()) {
      IsaScope scope(isa);
      Grads<T> got(b);
      modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), got.view(), o);
      const auto w = want.all(), gg = got.all();
      const char* names[] = {"omega", "sigma", "dgain", "amp", "delta", "gate"};
      for (size_t k = 0; k < w.size(); ++k)
        EXPECT_LT(max_abs_diff(*gg[k], *w[k]) / std::max(1.0, max_abs(*w[k])), tol)
            << isa_name(isa) << " " << names[k] << " seed " << seed;
    }
  }
}
TEST(Modal, FastBackwardMatchesReferenceDouble) { fast_vs_ref_backward<double>(1e-9, 1e-3, 256); }
TEST(Modal, FastBackwardMatchesReferenceDoubleShortCheckpoints) { fast_vs_ref_backward<double>(1e-9, 1e-4, 64); }
TEST(Modal, FastBackwardMatchesReferenceFloat) { fast_vs_ref_backward<float>(2e-3, 1e-3, 128); }

TEST(Modal, CheckpointIntervalAndTapeDoNotChangeResults) {
  const Bank<float> b = random_bank<float>(153, 2000, 3, 21, 2e-3f, true);
  std::vector<float> gy(static_cast<size_t>(b.n));
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  for (float& v : gy) v = nd(rng);
  for (Isa isa : simd_isas()) {
    IsaScope scope(isa);
    std::vector<Grads<float>> runs;
    std::vector<std::vector<float>> ys;
    for (long c : {64L, 192L, 256L, 4096L}) {
      ModalOptions o;
      o.checkpoint = c;
      ModalTape<float> tape;
      ys.push_back(fwd(b, o, &tape));
      runs.emplace_back(b);
      modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), runs.back().view(), o, &tape);
      Grads<float> no_tape(b);  // recomputes the checkpoints itself
      modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), no_tape.view(), o);
      for (size_t k = 0; k < 6; ++k) EXPECT_EQ(*no_tape.all()[k], *runs.back().all()[k]) << isa_name(isa);
    }
    for (size_t r = 1; r < runs.size(); ++r) {
      EXPECT_EQ(ys[r], ys[0]) << isa_name(isa);
      for (size_t k = 0; k < 6; ++k) EXPECT_EQ(*runs[r].all()[k], *runs[0].all()[k]) << isa_name(isa) << " " << k;
    }
  }
}

TEST(Modal, TruncationEndsOnTheBlockGridBelowThreshold) {
  // One decaying mode beside a loud one that sets the threshold: the quiet one must end at the first
  // grid point where |z| < thr, and its gradient must equal the untruncated gradient of the loss
  // restricted to the samples it still plays.
  const long n = 4000, s = 30;
  Bank<double> b;
  b.n = n;
  b.add(0.5, 3e-3, 0, 0.2, 0.4, s, -1);
  b.add(1.1, 0, 0, 1.0, 0, n - 1, -1);  // starts at the last sample: sets max|amp| only
  ModalOptions o;
  o.rel_threshold = 1e-3;
  std::vector<std::vector<double>> ys{fwd_ref(b, o)};
  for (Isa isa : simd_isas()) {
    IsaScope scope(isa);
    ModalTape<double> tape;
    ys.push_back(fwd(b, o, &tape));
    const long L = static_cast<long>(tape.end[0]);
    EXPECT_EQ(L % kModalBlock, 0);
    const double thr = 1e-3;
    EXPECT_LT(0.2 * std::exp(-3e-3 * (L - s + 0.4)), thr);
    EXPECT_GE(0.2 * std::exp(-3e-3 * (L - kModalBlock - s + 0.4)), thr);
  }
  long last = 0;  // last non-zero sample of the quiet mode
  for (long t = 0; t < n - 1; ++t)
    if (ys[0][t] != 0) last = t;
  const long L = (last / kModalBlock + 1) * kModalBlock;
  for (const auto& y : ys) {
    for (long t = L; t < n - 1; ++t) ASSERT_EQ(y[t], 0.0) << t;
    EXPECT_NE(y[L - 1], 0.0);
  }
  std::vector<double> gy(static_cast<size_t>(n)), gy_cut(gy.size());
  std::mt19937 rng(5);
  std::normal_distribution<double> nd;
  for (long t = 0; t < n; ++t) {
    gy[t] = nd(rng);
    gy_cut[t] = t < L ? gy[t] : 0.0;
  }
  Bank<double> quiet;
  quiet.n = n;
  quiet.add(0.5, 3e-3, 0, 0.2, 0.4, s, -1);
  ModalOptions none;
  none.rel_threshold = 0;
  Grads<double> want(quiet);
  ref::modal_backward<double>(quiet.view(), nullptr, 0, n, gy_cut.data(), want.view(), none);
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::scalar);
  for (Isa isa : isas) {
    IsaScope scope(isa);
    Grads<double> got(b);
    modal_backward<double>(b.view(), nullptr, 0, n, gy.data(), got.view(), o);
    EXPECT_NEAR(got.omega[0], want.omega[0], 1e-9 * std::fabs(want.omega[0])) << isa_name(isa);
    EXPECT_NEAR(got.sigma[0], want.sigma[0], 1e-9 * std::fabs(want.sigma[0])) << isa_name(isa);
    EXPECT_NEAR(got.amp[0], want.amp[0], 1e-9 * std::fabs(want.amp[0])) << isa_name(isa);
    EXPECT_NEAR(got.delta[0], want.delta[0], 1e-9 * std::fabs(want.delta[0])) << isa_name(isa);
  }
}

TEST(Modal, SilentModesCostNothingAndHaveNoGradient) {
  Bank<double> b = random_bank<double>(9, 700, 2, 31);
  b.add(0.3, 1e-3, 0.01, 0.0, 0.5, 10, 0);   // amp 0
  b.add(0.3, 1e-3, 0.01, 0.7, 0.5, 700, 1);  // starts after the end
  const std::vector<double> gy(700, 1.0);
  for (Isa isa : {Isa::scalar, best_isa()}) {
    IsaScope scope(isa);
    Grads<double> g(b);
    modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), g.view(), {});
    for (size_t m = 9; m < 11; ++m) {
      EXPECT_EQ(g.omega[m], 0.0);
      EXPECT_EQ(g.amp[m], 0.0);
      EXPECT_EQ(g.delta[m], 0.0);
    }
  }
  Bank<double> without = b;
  for (auto* v : {&without.omega, &without.sigma, &without.dgain, &without.amp, &without.delta}) v->resize(9);
  without.start.resize(9);
  without.env.resize(9);
  EXPECT_EQ(fwd(b, {}), fwd(without, {}));
}

TEST(Modal, ThreadsAgreeWithOneThread) {
  const Bank<float> b = random_bank<float>(801, 6000, 4, 41);
  ModalOptions o;
  const int prev = omp_get_max_threads();
  omp_set_num_threads(1);
  const std::vector<float> y1 = fwd(b, o);
  std::vector<float> gy(6000, 0.5f);
  Grads<float> g1(b), g2(b);
  modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), g1.view(), o);
  omp_set_num_threads(2);
  const std::vector<float> y2 = fwd(b, o);
  modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), g2.view(), o);
  omp_set_num_threads(prev);
  EXPECT_LT(max_abs_diff(y1, y2), 1e-4 * max_abs(y1));
  for (size_t k = 0; k < 6; ++k)
    EXPECT_LT(max_abs_diff(*g1.all()[k], *g2.all()[k]), 1e-4 * std::max(1.0, max_abs(*g1.all()[k]))) << k;
}

TEST(Modal, RejectsBadInputs) {
  Bank<float> b = random_bank<float>(3, 100, 1, 1);
  std::vector<float> y(100);
  ModalOptions o;
  o.checkpoint = 100;
  EXPECT_THROW(modal_forward(b.view(), b.gate.data(), 1, 100, y.data(), o), std::invalid_argument);
  b.start[1] = -3;
  EXPECT_THROW(modal_forward(b.view(), b.gate.data(), 1, 100, y.data()), std::invalid_argument);
  b.start[1] = 0;
  b.env[2] = 1;
  EXPECT_THROW(modal_forward(b.view(), b.gate.data(), 1, 100, y.data()), std::invalid_argument);
  EXPECT_THROW(ref::modal_forward(b.view(), b.gate.data(), 1, 100, y.data()), std::invalid_argument);
}

}  // namespace
