// Every ISA of the reduction kernels (and the strided inner > 1 path) against the scalar references,
// over odd sizes that exercise the SIMD tails, plus NaN / infinity / large-value behaviour.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/reduce.h"

namespace pianograd::kernels::cpu {
namespace {

const Isa kIsas[] = {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512};
const long kSizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 1027};

template <class T>
std::vector<T> random_vec(size_t n, unsigned seed, T scale = T(1)) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(d(rng)) * scale;
  return v;
}

template <class T> T tol() { return sizeof(T) == 4 ? T(2e-5) : T(1e-12); }

template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, T scale, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " at " << i;
      continue;
    }
    ASSERT_NEAR(got[i], want[i], tol<T>() * std::max<T>(T(1), scale) * std::max<T>(T(1), std::fabs(want[i])))
        << what << " at " << i;
  }
}

std::string where(Isa isa, long outer, long n, long inner) {
  return std::string(isa_name(isa)) + " [" + std::to_string(outer) + "," + std::to_string(n) + "," +
         std::to_string(inner) + "]";
}

template <class T>
void check_all_geometries() {
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    for (long n : kSizes)
      for (long outer : {1L, 3L})
        for (long inner : {1L, 5L}) {
          const size_t total = static_cast<size_t>(outer * n * inner), nout = static_cast<size_t>(outer * inner);
          const std::string w = where(isa, outer, n, inner);
          const auto x = random_vec<T>(total, static_cast<unsigned>(n * 7 + outer + inner), T(3));
          std::vector<T> y(nout), r(nout);
          reduce_sum(x.data(), y.data(), outer, n, inner);
          ref::reduce_sum(x.data(), r.data(), outer, n, inner);
          expect_close(y, r, static_cast<T>(n), "sum " + w);
          for (bool is_min : {false, true}) {
            reduce_max(x.data(), y.data(), outer, n, inner, is_min);
            ref::reduce_max(x.data(), r.data(), outer, n, inner, is_min);
            EXPECT_EQ(y, r) << "max/min " << w;  // exact: no arithmetic involved
          }
          logsumexp(x.data(), y.data(), outer, n, inner);
          ref::logsumexp(x.data(), r.data(), outer, n, inner);
          expect_close(y, r, T(1), "logsumexp " + w);
          std::vector<T> s(total), sr(total), g(total), gr(total);
          const auto gy = random_vec<T>(total, static_cast<unsigned>(n + 99));
          for (bool log : {false, true}) {
            softmax(x.data(), s.data(), outer, n, inner, log);
            ref::softmax(x.data(), sr.data(), outer, n, inner, log);
            expect_close(s, sr, T(1), std::string(log ? "log_softmax " : "softmax ") + w);
            softmax_backward(sr.data(), gy.data(), g.data(), outer, n, inner, log);
            ref::softmax_backward(sr.data(), gy.data(), gr.data(), outer, n, inner, log);
            expect_close(g, gr, static_cast<T>(n), std::string(log ? "log_softmax bwd " : "softmax bwd ") + w);
          }
        }
  }
}

TEST(ReduceKernels, EveryIsaMatchesReferenceFloat) { check_all_geometries<float>(); }
TEST(ReduceKernels, EveryIsaMatchesReferenceDouble) { check_all_geometries<double>(); }

template <class T>
void check_layer_norm() {
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    // rows * n of the last case crosses kParallelGrain, so the threaded gw/gb reduction runs too.
    for (auto [rows, n] : {std::pair{1L, 1L}, {3L, 7L}, {4L, 17L}, {2L, 100L}, {64L, 1027L}}) {
      const size_t total = static_cast<size_t>(rows * n), un = static_cast<size_t>(n), ur = static_cast<size_t>(rows);
      // A common offset of 5 std: the two-pass variance must not cancel. Float rounding of the mean is
      // amplified by |mean| / std, hence the scale of the tolerances below.
      auto x = random_vec<T>(total, static_cast<unsigned>(n), T(2));
      for (auto& e : x) e += T(10);
      const auto w = random_vec<T>(un, 5), b = random_vec<T>(un, 6), gy = random_vec<T>(total, 7);
      for (bool affine : {false, true}) {
        const T* pw = affine ? w.data() : nullptr;
        const T* pb = affine ? b.data() : nullptr;
        const std::string what = where(isa, rows, n, 1) + (affine ? " affine" : "");
        std::vector<T> y(total), yr(total), m(ur), mr(ur), rs(ur), rsr(ur);
        layer_norm(x.data(), pw, pb, y.data(), m.data(), rs.data(), rows, n, T(1e-5));
        ref::layer_norm(x.data(), pw, pb, yr.data(), mr.data(), rsr.data(), rows, n, T(1e-5));
        expect_close(y, yr, T(5), "layer_norm " + what);
        expect_close(m, mr, T(1), "layer_norm mean " + what);
        expect_close(rs, rsr, T(1), "layer_norm rstd " + what);
        std::vector<T> gx(total), gxr(total), gw(un, T(7)), gwr(un), gb(un, T(7)), gbr(un);
        layer_norm_backward(x.data(), mr.data(), rsr.data(), pw, gy.data(), gx.data(), gw.data(), gb.data(), rows, n);
        ref::layer_norm_backward(x.data(), mr.data(), rsr.data(), pw, gy.data(), gxr.data(), gwr.data(), gbr.data(),
                                 rows, n);
        expect_close(gx, gxr, T(5) * static_cast<T>(n), "layer_norm gx " + what);
        expect_close(gw, gwr, T(5) * static_cast<T>(rows), "layer_norm gw " + what);
        expect_close(gb, gbr, static_cast<T>(rows), "layer_norm gb " + what);
      }
    }
  }
}

TEST(ReduceKernels, LayerNormEveryIsaMatchesReference) {
  check_layer_norm<float>();
  check_layer_norm<double>();
}

TEST(ReduceKernels, LayerNormRowsAreNormalised) {
  const long n = 37;
  auto x = random_vec<double>(static_cast<size_t>(2 * n), 11, 4.0);
  std::vector<double> y(x.size()), m(2), rs(2);
  layer_norm(x.data(), static_cast<const double*>(nullptr), static_cast<const double*>(nullptr), y.data(), m.data(),
             rs.data(), 2L, n, 0.0);
  for (long r = 0; r < 2; ++r) {
    double s = 0, ss = 0;
    for (long i = 0; i < n; ++i) s += y[static_cast<size_t>(r * n + i)];
    for (long i = 0; i < n; ++i) ss += y[static_cast<size_t>(r * n + i)] * y[static_cast<size_t>(r * n + i)];
    EXPECT_NEAR(s / n, 0.0, 1e-12);
    EXPECT_NEAR(ss / n, 1.0, 1e-12);
  }
}

TEST(ReduceKernels, MaxPropagatesNaNAndArgFindsFirst) {
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    for (long n : {5L, 19L, 40L}) {
      std::vector<float> x(static_cast<size_t>(n), 1.0f);
      x[3] = 4.0f;
      x[static_cast<size_t>(n - 1)] = 4.0f;  // a later tie: the index must stay 3
      float y = 0;
      int64_t idx = -1;
      reduce_arg(x.data(), &y, &idx, 1L, n, 1L, false);
      EXPECT_EQ(y, 4.0f) << isa_name(isa);
      EXPECT_EQ(idx, 3) << isa_name(isa);
      reduce_arg(x.data(), &y, &idx, 1L, n, 1L, true);
      EXPECT_EQ(y, 1.0f);
      EXPECT_EQ(idx, 0);
      x[static_cast<size_t>(n / 2 + 1)] = std::numeric_limits<float>::quiet_NaN();
      for (bool is_min : {false, true}) {
        reduce_arg(x.data(), &y, &idx, 1L, n, 1L, is_min);
        EXPECT_TRUE(std::isnan(y)) << isa_name(isa) << " n=" << n;
        EXPECT_EQ(idx, n / 2 + 1) << isa_name(isa);
      }
    }
  }
}

TEST(ReduceKernels, StableWithLargeAndInfiniteValues) {
  const float inf = std::numeric_limits<float>::infinity();
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    // exp(1000) overflows float; the max shift keeps everything finite.
    std::vector<float> x = {1000.f, 999.f, 998.f, 1000.f, -inf, 1000.f, 997.f, 999.f, 1000.f, 990.f, 1000.f};
    const long n = static_cast<long>(x.size());
    std::vector<float> s(x.size()), ls(x.size());
    softmax(x.data(), s.data(), 1L, n, 1L, false);
    softmax(x.data(), ls.data(), 1L, n, 1L, true);
    double z = 0;
    for (float v : x) z += std::exp(static_cast<double>(v) - 1000.0);
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(static_cast<double>(x[i]) - 1000.0) / z;
      EXPECT_NEAR(s[i], want, 1e-6) << isa_name(isa) << " " << i;
      if (std::isinf(x[i])) EXPECT_EQ(ls[i], -inf);
      else EXPECT_NEAR(ls[i], std::log(want), 1e-4) << isa_name(isa) << " " << i;
    }
    float y = 0;
    logsumexp(x.data(), &y, 1L, n, 1L);
    EXPECT_NEAR(y, 1000.0 + std::log(z), 1e-3);
    const std::vector<float> all_neg_inf(9, -inf), with_pos_inf = {1.f, inf, 2.f};
    logsumexp(all_neg_inf.data(), &y, 1L, 9L, 1L);
    EXPECT_EQ(y, -inf);
    logsumexp(with_pos_inf.data(), &y, 1L, 3L, 1L);
    EXPECT_EQ(y, inf);
    // Empty reductions: defined values, no read of x.
    logsumexp(static_cast<const float*>(nullptr), &y, 1L, 0L, 1L);
    EXPECT_EQ(y, -inf);
    reduce_max(static_cast<const float*>(nullptr), &y, 1L, 0L, 1L, false);
    EXPECT_TRUE(std::isnan(y));
    softmax(static_cast<const float*>(nullptr), static_cast<float*>(nullptr), 4L, 0L, 1L, false);
  }
}

}  // namespace
}  // namespace pianograd::kernels::cpu
