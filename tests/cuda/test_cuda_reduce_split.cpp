// The split (two-pass) reductions of kernels/cuda/reduce.cu: few outputs over a long axis are reduced
// in chunks into partials, then folded. These shapes take that path (a full sum, a [rows, 88] column
// sum, a layer_norm weight gradient over many rows); the references accumulate in double, and the
// tolerance is relative to the sum of magnitudes (the rounding of any summation order is bounded by it).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"
#include "kernels/random_vec.h"
#include "cuda_test.h"

namespace gpu = pianograd::kernels::cuda;
using gpu::DeviceBuffer;

namespace {

using pianograd::kernels::cpu::testing::random_vec;

template <class T> double eps() { return sizeof(T) == 4 ? 1e-5 : 1e-13; }

// outer x n x inner -> outer x inner: sum (against double, relative to sum |x|) and max/min (exact).
template <class T>
void check_split(long outer, long n, long inner) {
  auto x = random_vec<T>(outer * n * inner, 21, -1.0, 1.0);
  // A NaN deep inside output 0's axis (in a later chunk): max/min must propagate it through the partials.
  x[static_cast<size_t>((n - 3) * inner)] = std::numeric_limits<T>::quiet_NaN();
  DeviceBuffer<T> dx(x), dy(static_cast<size_t>(outer * inner));
  gpu::reduce_sum(dx.data(), dy.data(), outer, n, inner);
  const std::vector<T> got = dy.to_host();
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) {
      double s = 0, mag = 0;
      bool nan = false;
      for (long k = 0; k < n; ++k) {
        const double v = static_cast<double>(x[static_cast<size_t>((o * n + k) * inner + i)]);
        if (std::isnan(v)) nan = true;
        else s += v, mag += std::fabs(v);
      }
      const double g = static_cast<double>(got[static_cast<size_t>(o * inner + i)]);
      if (nan) {
        EXPECT_TRUE(std::isnan(g)) << "sum " << o << "," << i;
      } else {
        EXPECT_NEAR(g, s, eps<T>() * mag) << "sum " << o << "," << i;
      }
    }
  for (bool is_min : {false, true}) {
    gpu::reduce_max(dx.data(), dy.data(), outer, n, inner, is_min);
    const std::vector<T> m = dy.to_host();
    for (long o = 0; o < outer; ++o)
      for (long i = 0; i < inner; ++i) {
        T want = x[static_cast<size_t>(o * n * inner + i)];
        bool nan = std::isnan(static_cast<double>(want));
        for (long k = 1; k < n; ++k) {
          const T v = x[static_cast<size_t>((o * n + k) * inner + i)];
          if (std::isnan(static_cast<double>(v))) nan = true;
          else if (is_min ? v < want : v > want) want = v;
        }
        const double g = static_cast<double>(m[static_cast<size_t>(o * inner + i)]);
        if (nan) {
          EXPECT_TRUE(std::isnan(g)) << (is_min ? "min " : "max ") << o << "," << i;
        } else {
          EXPECT_EQ(g, static_cast<double>(want)) << (is_min ? "min " : "max ") << o << "," << i;
        }
      }
  }
}

template <class T>
void check_layer_norm_param_grad() {
  const long rows = 60000, n = 88;  // a [B*T, 88] head: 88 columns over 60k rows takes the split path
  const auto x = random_vec<T>(rows * n, 22, -2.0, 2.0), gy = random_vec<T>(rows * n, 23, -1.0, 1.0);
  const auto w = random_vec<T>(n, 24, 0.5, 1.5), b = random_vec<T>(n, 25, -1.0, 1.0);
  DeviceBuffer<T> dx(x), dw(w), db(b), dy(static_cast<size_t>(rows * n)), dmean(static_cast<size_t>(rows)),
      drstd(static_cast<size_t>(rows)), dgy(gy), dgx(static_cast<size_t>(rows * n)), dgw(static_cast<size_t>(n)),
      dgb(static_cast<size_t>(n));
  gpu::layer_norm(dx.data(), dw.data(), db.data(), dy.data(), dmean.data(), drstd.data(), rows, n, T(1e-5));
  gpu::layer_norm_backward(dx.data(), dmean.data(), drstd.data(), dw.data(), dgy.data(), dgx.data(), dgw.data(),
                           dgb.data(), rows, n);
  const std::vector<T> mean = dmean.to_host(), rstd = drstd.to_host(), gw = dgw.to_host(), gb = dgb.to_host();
  for (long i = 0; i < n; ++i) {
    double sw = 0, sb = 0, mw = 0, mb = 0;
    for (long r = 0; r < rows; ++r) {
      const double g = static_cast<double>(gy[static_cast<size_t>(r * n + i)]);
      const double xh = (static_cast<double>(x[static_cast<size_t>(r * n + i)]) - static_cast<double>(mean[static_cast<size_t>(r)])) *
                        static_cast<double>(rstd[static_cast<size_t>(r)]);
      sw += g * xh, sb += g, mw += std::fabs(g * xh), mb += std::fabs(g);
    }
    EXPECT_NEAR(static_cast<double>(gw[static_cast<size_t>(i)]), sw, eps<T>() * mw) << "gw " << i;
    EXPECT_NEAR(static_cast<double>(gb[static_cast<size_t>(i)]), sb, eps<T>() * mb) << "gb " << i;
  }
}

}  // namespace

TEST(CudaReduceSplit, FullSumOfAMillionFloat) { PG_REQUIRE_GPU(); check_split<float>(1, 1L << 20, 1); }
TEST(CudaReduceSplit, FewLongRowsDouble) { PG_REQUIRE_GPU(); check_split<double>(3, 300001, 1); }
TEST(CudaReduceSplit, ColumnSumsFloat) { PG_REQUIRE_GPU(); check_split<float>(1, 200003, 88); }
TEST(CudaReduceSplit, StridedBatchesDouble) { PG_REQUIRE_GPU(); check_split<double>(2, 70001, 5); }
TEST(CudaReduceSplit, LayerNormParamGradOverManyRowsFloat) { PG_REQUIRE_GPU(); check_layer_norm_param_grad<float>(); }
TEST(CudaReduceSplit, LayerNormParamGradOverManyRowsDouble) { PG_REQUIRE_GPU(); check_layer_norm_param_grad<double>(); }
