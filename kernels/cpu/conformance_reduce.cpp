// Conformance cases of the reductions (kernels/cpu/reduce.h): sum, max/min (with a NaN), argmax/argmin
// (ties: the first index), logsumexp, softmax and log_softmax with their backward, layer_norm and its
// backward, over rows (inner == 1: the per-ISA row kernels) and strided (inner > 1) layouts, against
// ref:: (argmax against a direct scan). Sums are compared relative to the output's scale with a
// bound growing with the row length n: the reference sums in order, the SIMD kernels in lanes.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/reduce.h"

namespace pianograd::kernels::cpu::conformance::detail {
namespace {

struct Layout {
  long outer, inner;
};
constexpr Layout kRows{3, 1}, kStrided{2, 5};

// A bound for an n-term sum: n roundings in the reference's order at worst, and the kernel's own.
double sum_bound(long n) { return 8 + 2.0 * static_cast<double>(n); }

// Each case takes the kernel as a callable over the dispatched API (x, y, outer, n, inner, ...).
template <class T, class F>
Outcome sum_case(Layout l, long n, F&& fn) {
  const auto x = uniform<T>(l.outer * n * l.inner, 17 + n, 0.5, 1.5);  // positive: no cancellation
  Guarded<T> y(l.outer * l.inner);
  std::vector<T> want(static_cast<size_t>(l.outer * l.inner));
  fn(x.data(), y.data(), l.outer, n, l.inner);
  ref::reduce_sum<T>(x.data(), want.data(), l.outer, n, l.inner);
  return worst(ulps_of_scale(y.data(), want.data(), y.size(), 1, sum_bound(n), "sum"), guards(y, "sum"));
}

template <class T>
std::vector<T> with_ties(long count, std::uint64_t seed) {  // quarter steps: equal values are common
  auto v = uniform<T>(count, seed, -2, 2);
  for (auto& x : v) x = std::round(x * 4) / 4;
  return v;
}

template <class T>
std::vector<T> extremum_input(Layout l, bool nan, long n) {
  auto x = with_ties<T>(l.outer * n * l.inner, 19 + n);
  if (nan) x[static_cast<size_t>((n / 2) * l.inner)] = std::numeric_limits<T>::quiet_NaN();  // row 0 only
  return x;
}

template <class T, class F>
Outcome extremum_case(Layout l, bool is_min, bool nan, long n, F&& fn) {
  const auto x = extremum_input<T>(l, nan, n);
  Guarded<T> y(l.outer * l.inner);
  std::vector<T> want(static_cast<size_t>(l.outer * l.inner));
  fn(x.data(), y.data(), l.outer, n, l.inner, is_min);
  ref::reduce_max<T>(x.data(), want.data(), l.outer, n, l.inner, is_min);
  return worst(ulps_each(y.data(), want.data(), y.size(), 1e-30, 0, is_min ? "min" : "max"), guards(y, "extremum"));
}

// reduce_arg (dispatcher level only): the extremum and the first index holding it (or the first NaN).
template <class T>
Outcome arg_case(Layout l, bool is_min, bool nan, long n) {
  const auto x = extremum_input<T>(l, nan, n);
  Guarded<T> ya(l.outer * l.inner);
  std::vector<T> want(static_cast<size_t>(l.outer * l.inner));
  std::vector<std::int64_t> idx(want.size(), -7);
  ref::reduce_max<T>(x.data(), want.data(), l.outer, n, l.inner, is_min);
  reduce_arg<T>(x.data(), ya.data(), idx.data(), l.outer, n, l.inner, is_min);
  Outcome o = worst(ulps_each(ya.data(), want.data(), ya.size(), 1e-30, 0, "reduce_arg value"), guards(ya, "reduce_arg value"));
  for (long oi = 0; oi < l.outer; ++oi)  // the first index holding the extremum (or the first NaN)
    for (long i = 0; i < l.inner; ++i) {
      const T* p = x.data() + oi * n * l.inner + i;
      const T m = want[static_cast<size_t>(oi * l.inner + i)];
      long k = 0;
      while (k < n && !(p[k * l.inner] == m || (std::isnan(m) && std::isnan(p[k * l.inner])))) ++k;
      const std::int64_t got = idx[static_cast<size_t>(oi * l.inner + i)];
      if (got != k) o = worst(o, broken("arg index [" + std::to_string(oi * l.inner + i) + "] = " + std::to_string(got) +
                                        ", first extremum at " + std::to_string(k)));
    }
  return o;
}

template <class T, class F>
Outcome lse_case(Layout l, long n, F&& fn) {
  const auto x = uniform<T>(l.outer * n * l.inner, 23 + n, -20, 20);
  Guarded<T> y(l.outer * l.inner);
  std::vector<T> want(static_cast<size_t>(l.outer * l.inner));
  fn(x.data(), y.data(), l.outer, n, l.inner);
  ref::logsumexp<T>(x.data(), want.data(), l.outer, n, l.inner);
  return worst(ulps_each(y.data(), want.data(), y.size(), 1, sum_bound(n), "logsumexp"), guards(y, "logsumexp"));
}

template <class T, class F, class G>
Outcome softmax_case(Layout l, bool log, long n, F&& fwd, G&& bwd) {
  const long total = l.outer * n * l.inner;
  const auto x = uniform<T>(total, 29 + n, -10, 10), gy = uniform<T>(total, 31 + n);
  Guarded<T> y(total), gx(total);
  std::vector<T> want(static_cast<size_t>(total)), gwant(want.size());
  fwd(x.data(), y.data(), l.outer, n, l.inner, log);
  ref::softmax<T>(x.data(), want.data(), l.outer, n, l.inner, log);
  // The backward from the reference's y, so the two backward passes see the same input.
  bwd(want.data(), gy.data(), gx.data(), l.outer, n, l.inner, log);
  ref::softmax_backward<T>(want.data(), gy.data(), gwant.data(), l.outer, n, l.inner, log);
  // softmax: each element relative (exp is relative-accurate; the normaliser carries the sum's
  // rounding); log_softmax: absolute, against max(|y|, 1).
  Outcome o = ulps_each(y.data(), want.data(), total, log ? 1 : 1e-30, sum_bound(n), "y");
  o = worst(o, ulps_of_scale(gx.data(), gwant.data(), total, 1, sum_bound(n), "gx"));
  return worst(worst(o, guards(y, "y")), guards(gx, "gx"));
}

template <class T, class F, class G>
Outcome layer_norm_case(long n, F&& fwd, G&& bwd) {
  const long rows = kRows.outer;
  const auto x = uniform<T>(rows * n, 37 + n, -3, 3), w = uniform<T>(n, 41 + n), b = uniform<T>(n, 43 + n);
  const auto gy = uniform<T>(rows * n, 47 + n);
  const T eps = T(1e-5);
  Guarded<T> y(rows * n), mean(rows), rstd(rows), gx(rows * n), gw(n), gb(n);
  std::vector<T> y0(static_cast<size_t>(rows * n)), mean0(static_cast<size_t>(rows)), rstd0(mean0.size());
  std::vector<T> gx0(y0.size()), gw0(static_cast<size_t>(n)), gb0(gw0.size());
  fwd(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), rows, n, eps);
  ref::layer_norm<T>(x.data(), w.data(), b.data(), y0.data(), mean0.data(), rstd0.data(), rows, n, eps);
  bwd(x.data(), mean0.data(), rstd0.data(), w.data(), gy.data(), gx.data(), gw.data(), gb.data(), rows, n);
  ref::layer_norm_backward<T>(x.data(), mean0.data(), rstd0.data(), w.data(), gy.data(), gx0.data(), gw0.data(),
                              gb0.data(), rows, n);
  // A one-element row normalises 0 by sqrt(eps): y = b exactly, and rstd = 1/sqrt(eps) in both.
  const double bound = 4 * sum_bound(n);
  Outcome o = ulps_of_scale(y.data(), y0.data(), rows * n, 1, bound, "y");
  o = worst(o, ulps_of_scale(mean.data(), mean0.data(), rows, 1, bound, "mean"));
  o = worst(o, ulps_each(rstd.data(), rstd0.data(), rows, 1, bound, "rstd"));
  o = worst(o, ulps_of_scale(gx.data(), gx0.data(), rows * n, 1, bound, "gx"));
  o = worst(o, ulps_of_scale(gw.data(), gw0.data(), n, 1, bound, "gw"));
  o = worst(o, ulps_of_scale(gb.data(), gb0.data(), n, 1, bound, "gb"));
  for (const Guarded<T>* g : {&y, &mean, &rstd, &gx, &gw, &gb}) o = worst(o, guards(*g, "layer_norm outputs"));
  return o;
}

// The dispatched entry points as the cases' callables.
template <class T>
struct Dispatched {
  static void sum(const T* x, T* y, long o, long n, long i) { reduce_sum<T>(x, y, o, n, i); }
  static void max(const T* x, T* y, long o, long n, long i, bool m) { reduce_max<T>(x, y, o, n, i, m); }
  static void lse(const T* x, T* y, long o, long n, long i) { logsumexp<T>(x, y, o, n, i); }
  static void sm(const T* x, T* y, long o, long n, long i, bool l) { softmax<T>(x, y, o, n, i, l); }
  static void sm_bwd(const T* y, const T* g, T* gx, long o, long n, long i, bool l) {
    softmax_backward<T>(y, g, gx, o, n, i, l);
  }
};

}  // namespace

void add_reduce_cases(std::vector<Case>& out) {
  const std::vector<long> large = {1000, 12000};  // 3 x 12000: past kParallelGrain, split over threads
  for (const auto& [l, ln] : {std::pair<Layout, const char*>{kRows, "rows"}, {kStrided, "strided"}}) {
    const std::string s = ln;
    out.push_back(make_case("reduce_sum", s, [l = l](auto t, long n) {
      using T = decltype(t);
      return sum_case<T>(l, n, &Dispatched<T>::sum);
    }, large));
    for (const bool is_min : {false, true})
      for (const bool nan : {false, true})
        out.push_back(make_case("reduce_max+reduce_arg", s + (is_min ? "_min" : "_max") + (nan ? "_nan" : ""),
                                [l = l, is_min, nan](auto t, long n) {
                                  using T = decltype(t);
                                  return worst(extremum_case<T>(l, is_min, nan, n, &Dispatched<T>::max),
                                               arg_case<T>(l, is_min, nan, n));
                                },
                                large));
    out.push_back(make_case("logsumexp", s, [l = l](auto t, long n) {
      using T = decltype(t);
      return lse_case<T>(l, n, &Dispatched<T>::lse);
    }, large));
    for (const bool log : {false, true})
      out.push_back(make_case("softmax+softmax_backward", s + (log ? "_log" : ""), [l = l, log](auto t, long n) {
        using T = decltype(t);
        return softmax_case<T>(l, log, n, &Dispatched<T>::sm, &Dispatched<T>::sm_bwd);
      }, large));
  }
  out.push_back(make_case("layer_norm+layer_norm_backward", "", [](auto t, long n) {
    using T = decltype(t);
    return layer_norm_case<T>(n, &layer_norm<T>, [](const T* x, const T* m, const T* r, const T* w, const T* gy, T* gx,
                                                    T* gw, T* gb, long rows, long len) {
      layer_norm_backward<T>(x, m, r, w, gy, gx, gw, gb, rows, len);
    });
  }, large));
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance {
using namespace detail;

// The row checks: the same cases over the rows layout, with an ISA's own row kernels.
template <class T>
Outcome check_sum_rows(long n, const RowsFn<T>& fn) {
  return sum_case<T>(kRows, n, [&](const T* x, T* y, long o, long len, long) { fn(x, y, o, len); });
}
template <class T>
Outcome check_max_rows(bool is_min, bool nan, long n, const MaxRowsFn<T>& fn) {
  return extremum_case<T>(kRows, is_min, nan, n, [&](const T* x, T* y, long o, long len, long, bool m) { fn(x, y, o, len, m); });
}
template <class T>
Outcome check_logsumexp_rows(long n, const RowsFn<T>& fn) {
  return lse_case<T>(kRows, n, [&](const T* x, T* y, long o, long len, long) { fn(x, y, o, len); });
}
template <class T>
Outcome check_softmax_rows(bool log, long n, const SoftmaxFn<T>& fwd, const SoftmaxBwdFn<T>& bwd) {
  return softmax_case<T>(
      kRows, log, n, [&](const T* x, T* y, long o, long len, long, bool lg) { fwd(x, y, o, len, lg); },
      [&](const T* y, const T* g, T* gx, long o, long len, long, bool lg) { bwd(y, g, gx, o, len, lg); });
}
template <class T>
Outcome check_layer_norm_rows(long n, const LayerNormFn<T>& fwd, const LayerNormBwdFn<T>& bwd) {
  return layer_norm_case<T>(n, fwd, [&](const T* x, const T* m, const T* r, const T* w, const T* gy, T* gx, T* gw,
                                        T* gb, long rows, long len) {
    std::fill(gw, gw + len, T(0));
    std::fill(gb, gb + len, T(0));
    bwd(x, m, r, w, gy, gx, gw, gb, rows, len);
  });
}

#define PG_REDUCE_CHECKS(T)                                                                              \
  template Outcome check_sum_rows<T>(long, const RowsFn<T>&);                                           \
  template Outcome check_max_rows<T>(bool, bool, long, const MaxRowsFn<T>&);                            \
  template Outcome check_logsumexp_rows<T>(long, const RowsFn<T>&);                                     \
  template Outcome check_softmax_rows<T>(bool, long, const SoftmaxFn<T>&, const SoftmaxBwdFn<T>&);      \
  template Outcome check_layer_norm_rows<T>(long, const LayerNormFn<T>&, const LayerNormBwdFn<T>&);
PG_REDUCE_CHECKS(float)
PG_REDUCE_CHECKS(double)
#undef PG_REDUCE_CHECKS

}  // namespace pianograd::kernels::cpu::conformance
