// Shared pieces of the conformance cases (kernels/cpu/conformance_*.cpp): seeded inputs, buffers
// that catch a write past either end, and the error measures of conformance.h.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/conformance.h"

namespace pianograd::kernels::cpu::conformance::detail {

template <class T>
std::vector<T> uniform(long n, std::uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(static_cast<size_t>(std::max(n, 0L)));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// |x| log-uniform in [lo, hi) (many binades: bases of log, sqrt, pow), optionally either sign.
template <class T>
std::vector<T> log_uniform(long n, std::uint64_t seed, double lo, double hi, bool random_sign = false) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<T> v(static_cast<size_t>(std::max(n, 0L)));
  for (auto& x : v) {
    const double m = lo * std::pow(hi / lo, u(rng));
    x = static_cast<T>(random_sign && u(rng) < 0.5 ? -m : m);
  }
  return v;
}

// n values with kGuard sentinels on either side: a kernel that writes past its n elements (a vector
// tail stored whole, an off-by-one chunk) changes a sentinel.
template <class T>
class Guarded {
 public:
  static constexpr long kGuard = 32;
  explicit Guarded(long n, T fill = T(0))
      : n_(std::max(n, 0L)), v_(static_cast<size_t>(n_ + 2 * kGuard), sentinel()) {
    std::fill_n(v_.begin() + kGuard, static_cast<size_t>(n_), fill);
  }
  Guarded(const std::vector<T>& init) : Guarded(static_cast<long>(init.size())) {  // NOLINT: implicit on purpose
    std::copy(init.begin(), init.end(), data());
  }
  T* data() { return v_.data() + kGuard; }
  const T* data() const { return v_.data() + kGuard; }
  long size() const { return n_; }
  bool intact() const {
    for (long i = 0; i < kGuard; ++i)
      if (!same(v_[static_cast<size_t>(i)]) || !same(v_[static_cast<size_t>(n_ + kGuard + i)])) return false;
    return true;
  }

 private:
  static T sentinel() { return static_cast<T>(-1234.5); }
  static bool same(T x) { return x == sentinel(); }
  long n_;
  std::vector<T> v_;
};

// Keeps the outcome with the larger error relative to its bound (a failing one over a passing one).
inline Outcome worst(Outcome a, const Outcome& b) {
  const double ra = a.bound > 0 ? a.error / a.bound : (a.error > 0 ? INFINITY : 0);
  const double rb = b.bound > 0 ? b.error / b.bound : (b.error > 0 ? INFINITY : 0);
  if (std::isnan(b.error) || (!std::isnan(a.error) && rb > ra)) return b;
  return a;
}

inline Outcome broken(const std::string& what) { return {INFINITY, 0, what}; }

template <class T>
Outcome guards(const Guarded<T>& g, const char* what) {
  return g.intact() ? Outcome{0, 0, {}} : broken(std::string(what) + ": wrote outside its elements");
}

template <class T>
std::string at(const char* what, long i, T got, T want) {
  std::ostringstream s;
  s.precision(9);
  s << what << "[" << i << "] = " << got << ", reference " << want;
  return s.str();
}

// Element-wise error in epsilons relative to max(|want|, floor); NaN against NaN and equal
// infinities agree, any other NaN or infinity mismatch is an infinite error.
template <class T>
Outcome ulps_each(const T* got, const T* want, long n, double floor, double bound, const char* what) {
  Outcome o{0, bound, {}};
  const double eps = std::numeric_limits<T>::epsilon();
  for (long i = 0; i < n; ++i) {
    const double g = got[i], w = want[i];
    double e;
    if (std::isnan(g) || std::isnan(w)) e = std::isnan(g) && std::isnan(w) ? 0 : INFINITY;
    else if (std::isinf(g) || std::isinf(w)) e = g == w ? 0 : INFINITY;
    else e = std::fabs(g - w) / (eps * std::max(std::fabs(w), floor));
    if (e > o.error || (std::isinf(e) && o.detail.empty())) {
      o.error = e;
      o.detail = at(what, i, got[i], want[i]);
    }
  }
  return o;
}

// max |got - want| in epsilons of max(floor, max |want|): for outputs that are sums, whose rounding
// depends on the summation order and scales with the output, not with each element.
template <class T>
Outcome ulps_of_scale(const T* got, const T* want, long n, double floor, double bound, const char* what) {
  double scale = floor;
  for (long i = 0; i < n; ++i) scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
  return ulps_each(got, want, n, scale, bound, what);
}

template <class T>
Outcome ulps_of_scale(const std::vector<T>& got, const std::vector<T>& want, double floor, double bound,
                      const char* what) {
  if (got.size() != want.size()) return broken(std::string(what) + ": sizes differ");
  return ulps_of_scale(got.data(), want.data(), static_cast<long>(got.size()), floor, bound, what);
}

// The case's bound for T: one figure for float, one for double.
template <class T>
constexpr double per_type(double f32, double f64) {
  return sizeof(T) == 4 ? f32 : f64;
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance::detail {

enum class Precisions { both, f32_only };

// A case from a generic lambda f(T{}, size) -> Outcome, instantiated for float (and double).
template <class F>
Case make_case(std::string kernel, std::string variant, F f, std::vector<long> large = {},
               Precisions p = Precisions::both) {
  Case c;
  c.kernel = std::move(kernel);
  c.variant = std::move(variant);
  c.f32 = [f](long size) { return f(float{}, size); };
  if (p == Precisions::both) c.f64 = [f](long size) { return f(double{}, size); };
  c.large = std::move(large);
  return c;
}

// One per family file (conformance_<family>.cpp).
void add_elementwise_cases(std::vector<Case>& out);
void add_training_cases(std::vector<Case>& out);
void add_reduce_cases(std::vector<Case>& out);
void add_linalg_cases(std::vector<Case>& out);
void add_conv_cases(std::vector<Case>& out);
void add_spectral_cases(std::vector<Case>& out);
void add_modal_cases(std::vector<Case>& out);
void add_attention_cases(std::vector<Case>& out);

}  // namespace pianograd::kernels::cpu::conformance::detail
