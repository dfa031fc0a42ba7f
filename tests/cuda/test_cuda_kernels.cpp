// Every CUDA kernel (kernels/cuda/cuda_kernels.h) against the CPU kernel or scalar reference whose
// semantics it promises. Labelled `gpu` in ctest; each test skips with "no CUDA device" where the
// build has CUDA but the machine has no GPU, so CI proves it compiles and links.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/modal.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"
#include "kernels/random_vec.h"

namespace pk = pianograd::kernels;
namespace gpu = pianograd::kernels::cuda;
using gpu::DeviceBuffer;

#define PG_REQUIRE_GPU() \
  if (!gpu::available()) GTEST_SKIP() << "no CUDA device"

namespace {

using pianograd::kernels::cpu::testing::random_vec;

// |got - want| <= tol * max(1, |want|), NaN matching NaN.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(double(want[i]))) {
      ASSERT_TRUE(std::isnan(double(got[i]))) << what << " at " << i;
      continue;
    }
    ASSERT_NEAR(double(got[i]), double(want[i]), tol * std::max(1.0, std::fabs(double(want[i])))) << what << " at " << i;
  }
}

template <class T> double tol_for() { return sizeof(T) == 4 ? 2e-5 : 1e-12; }

TEST(CudaDevice, CountAndAvailabilityAgree) { EXPECT_EQ(gpu::available(), gpu::device_count() > 0); }

template <class T>
void check_binary() {
  const long n = 100003;  // odd, larger than one grid-stride pass of small grids
  const auto a = random_vec<T>(n, 1, 0.1, 2.0), b = random_vec<T>(n, 2, -2.0, 2.0);
  DeviceBuffer<T> da(a), db(b), dy(n);
  using B = pk::BinaryOp;
  for (B op : {B::add, B::sub, B::mul, B::div, B::pow, B::maximum, B::minimum})
    for (auto [sa, sb] : {std::pair{1L, 1L}, std::pair{0L, 1L}, std::pair{1L, 0L}}) {
      std::vector<T> want(n);
      pk::cpu::ref::binary(op, a.data(), sa, b.data(), sb, want.data(), n);
      gpu::binary(op, da.data(), sa, db.data(), sb, dy.data(), n);
      expect_close(dy.to_host(), want, tol_for<T>(), "binary");
    }
}
TEST(CudaElementwise, BinaryMatchesCpuFloat) { PG_REQUIRE_GPU(); check_binary<float>(); }
TEST(CudaElementwise, BinaryMatchesCpuDouble) { PG_REQUIRE_GPU(); check_binary<double>(); }

template <class T>
void check_unary() {
  const long n = 4099;
  auto x = random_vec<T>(n, 3, 0.05, 3.0);
  const auto gy = random_vec<T>(n, 4, -1.0, 1.0);
  using U = pk::UnaryOp;
  for (U op : {U::neg, U::exp, U::log, U::sqrt, U::abs, U::sin, U::cos, U::tanh, U::sigmoid, U::relu, U::gelu,
               U::softplus}) {
    std::vector<T> xs = x;
    if (op != U::log && op != U::sqrt)
      for (long i = 0; i < n; i += 2) xs[i] = -xs[i];
    std::vector<T> y(n), gx(n);
    pk::cpu::unary(op, xs.data(), y.data(), n);
    pk::cpu::unary_backward(op, xs.data(), y.data(), gy.data(), gx.data(), n);
    DeviceBuffer<T> dx(xs), dy(n), dgy(gy), dgx(n);
    gpu::unary(op, dx.data(), dy.data(), n);
    expect_close(dy.to_host(), y, tol_for<T>(), "unary");
    gpu::unary_backward(op, dx.data(), dy.data(), dgy.data(), dgx.data(), n);
    expect_close(dgx.to_host(), gx, tol_for<T>() * 4, "unary_backward");
  }
}
TEST(CudaElementwise, UnaryForwardBackwardMatchCpuFloat) { PG_REQUIRE_GPU(); check_unary<float>(); }
TEST(CudaElementwise, UnaryForwardBackwardMatchCpuDouble) { PG_REQUIRE_GPU(); check_unary<double>(); }

template <class T>
void check_reductions() {
  // Rows (inner == 1) and strided views; a NaN in one row; n == 1 and a row longer than a block.
  for (auto [outer, n, inner] : {std::tuple{7L, 1000L, 1L}, std::tuple{3L, 1L, 1L}, std::tuple{5L, 33L, 17L},
                                 std::tuple{2L, 257L, 64L}}) {
    auto x = random_vec<T>(outer * n * inner, 5, -3.0, 3.0);
    x[static_cast<size_t>(n * inner)] = std::numeric_limits<T>::quiet_NaN();  // row 1 (if any) has a NaN
    DeviceBuffer<T> dx(x), dy(outer * inner);
    std::vector<T> want(outer * inner);
    pk::cpu::ref::reduce_sum(x.data(), want.data(), outer, n, inner);
    gpu::reduce_sum(dx.data(), dy.data(), outer, n, inner);
    expect_close(dy.to_host(), want, tol_for<T>() * 10, "reduce_sum");
    for (bool is_min : {false, true}) {
      pk::cpu::ref::reduce_max(x.data(), want.data(), outer, n, inner, is_min);
      gpu::reduce_max(dx.data(), dy.data(), outer, n, inner, is_min);
      expect_close(dy.to_host(), want, 0.0, "reduce_max");
    }
  }
}
TEST(CudaReduce, SumAndMaxMatchCpuFloat) { PG_REQUIRE_GPU(); check_reductions<float>(); }
TEST(CudaReduce, SumAndMaxMatchCpuDouble) { PG_REQUIRE_GPU(); check_reductions<double>(); }

template <class T>
void check_softmax() {
  for (auto [rows, n] : {std::pair{9L, 10L}, std::pair{4L, 3001L}}) {
    const auto x = random_vec<T>(rows * n, 6, -8.0, 8.0), gy = random_vec<T>(rows * n, 7, -1.0, 1.0);
    DeviceBuffer<T> dx(x), dy(rows * n), dgy(gy), dgx(rows * n);
    for (bool log : {false, true}) {
      std::vector<T> y(rows * n), gx(rows * n);
      pk::cpu::ref::softmax(x.data(), y.data(), rows, n, 1, log);
      pk::cpu::ref::softmax_backward(y.data(), gy.data(), gx.data(), rows, n, 1, log);
      gpu::softmax_rows(dx.data(), dy.data(), rows, n, log);
      expect_close(dy.to_host(), y, tol_for<T>() * 10, "softmax");
      gpu::softmax_backward_rows(dy.data(), dgy.data(), dgx.data(), rows, n, log);
      expect_close(dgx.to_host(), gx, tol_for<T>() * 10, "softmax_backward");
    }
  }
}
TEST(CudaReduce, SoftmaxForwardBackwardMatchCpuFloat) { PG_REQUIRE_GPU(); check_softmax<float>(); }
TEST(CudaReduce, SoftmaxForwardBackwardMatchCpuDouble) { PG_REQUIRE_GPU(); check_softmax<double>(); }

template <class T>
void check_layer_norm() {
  const long rows = 6, n = 777;
  const auto x = random_vec<T>(rows * n, 8, 4.0, 6.0);  // a large mean: the two-pass variance matters
  const auto w = random_vec<T>(n, 9, 0.5, 1.5), b = random_vec<T>(n, 10, -1.0, 1.0);
  const auto gy = random_vec<T>(rows * n, 11, -1.0, 1.0);
  for (bool affine : {true, false}) {
    const T* pw = affine ? w.data() : nullptr;
    const T* pb = affine ? b.data() : nullptr;
    std::vector<T> y(rows * n), mean(rows), rstd(rows), gx(rows * n), gw(n), gb(n);
    pk::cpu::ref::layer_norm(x.data(), pw, pb, y.data(), mean.data(), rstd.data(), rows, n, T(1e-5));
    pk::cpu::ref::layer_norm_backward(x.data(), mean.data(), rstd.data(), pw, gy.data(), gx.data(), gw.data(),
                                      gb.data(), rows, n);
    DeviceBuffer<T> dx(x), dw(w), db(b), dy(rows * n), dmean(rows), drstd(rows), dgy(gy), dgx(rows * n), dgw(n),
        dgb(n);
    gpu::layer_norm(dx.data(), affine ? dw.data() : nullptr, affine ? db.data() : nullptr, dy.data(), dmean.data(),
                    drstd.data(), rows, n, T(1e-5));
    expect_close(dy.to_host(), y, tol_for<T>() * 50, "layer_norm y");
    expect_close(dmean.to_host(), mean, tol_for<T>() * 10, "layer_norm mean");
    expect_close(drstd.to_host(), rstd, tol_for<T>() * 50, "layer_norm rstd");
    gpu::layer_norm_backward(dx.data(), dmean.data(), drstd.data(), affine ? dw.data() : nullptr, dgy.data(),
                             dgx.data(), dgw.data(), dgb.data(), rows, n);
    expect_close(dgx.to_host(), gx, tol_for<T>() * 50, "layer_norm gx");
    expect_close(dgw.to_host(), gw, tol_for<T>() * 50, "layer_norm gw");
    expect_close(dgb.to_host(), gb, tol_for<T>() * 10, "layer_norm gb");
  }
}
TEST(CudaReduce, LayerNormForwardBackwardMatchCpuFloat) { PG_REQUIRE_GPU(); check_layer_norm<float>(); }
TEST(CudaReduce, LayerNormForwardBackwardMatchCpuDouble) { PG_REQUIRE_GPU(); check_layer_norm<double>(); }

template <class T>
void check_matmul() {
  const long m = 37, n = 53, k = 129, batch = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const auto a = random_vec<T>(batch * m * k, 12, -1, 1), b = random_vec<T>(k * n, 13, -1, 1);
      std::vector<T> want(batch * m * n);
      for (long i = 0; i < batch; ++i)  // B broadcast over the batch (stride 0)
        pk::cpu::ref::gemm(ta, tb, m, n, k, T(1), a.data() + i * m * k, ta ? m : k, b.data(), tb ? k : n, T(0),
                           want.data() + i * m * n, n);
      DeviceBuffer<T> da(a), db(b), dc(batch * m * n);
      gpu::matmul(da.data(), db.data(), dc.data(), m, n, k, ta, tb, batch, m * k, 0, m * n);
      expect_close(dc.to_host(), want, tol_for<T>() * 20, "matmul");
    }
}
TEST(CudaMatmul, BatchedTransposedMatchCpuFloat) { PG_REQUIRE_GPU(); check_matmul<float>(); }
TEST(CudaMatmul, BatchedTransposedMatchCpuDouble) { PG_REQUIRE_GPU(); check_matmul<double>(); }

template <class T>
void check_adam() {
  const long n = 10007;
  auto p = random_vec<T>(n, 14, -1, 1);
  std::vector<T> m(n, T(0)), v(n, T(0));
  DeviceBuffer<T> dp(p), dm(m), dv(v);
  for (bool decoupled : {false, true})
    for (int t = 1; t <= 3; ++t) {
      const auto g = random_vec<T>(n, 15 + t, -1, 1);
      pk::cpu::AdamStep s;
      s.lr = 1e-2;
      s.weight_decay = 0.1;
      s.decoupled = decoupled;
      s.bias_correction1 = 1.0 - std::pow(s.beta1, t);
      s.bias_correction2 = 1.0 - std::pow(s.beta2, t);
      pk::cpu::ref::adam_update(p.data(), g.data(), m.data(), v.data(), n, s);
      DeviceBuffer<T> dg(g);
      gpu::adam_update(dp.data(), dg.data(), dm.data(), dv.data(), n, s);
      expect_close(dp.to_host(), p, tol_for<T>(), "adam p");
      expect_close(dm.to_host(), m, tol_for<T>(), "adam m");
      expect_close(dv.to_host(), v, tol_for<T>(), "adam v");
    }
}
TEST(CudaOptim, AdamMatchesCpuFloat) { PG_REQUIRE_GPU(); check_adam<float>(); }
TEST(CudaOptim, AdamMatchesCpuDouble) { PG_REQUIRE_GPU(); check_adam<double>(); }

// The modal scan against cpu::ref::modal_forward without truncation (the GPU kernel's contract):
// many modes, starts in the middle of tiles and past the end, gated and ungated modes, several tiles.
template <class T>
void check_modal(double tol) {
  const long m_count = 64, n = 5000, rows = 3;
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<T> omega(m_count), sigma(m_count), dgain(m_count), amp(m_count), delta(m_count);
  std::vector<std::int64_t> start(m_count);
  std::vector<std::int32_t> env(m_count);
  for (long i = 0; i < m_count; ++i) {
    omega[i] = T(0.01 + 3.0 * u(rng));
    sigma[i] = T(1e-4 + 2e-3 * u(rng));
    dgain[i] = T(0.05 * u(rng));
    amp[i] = T(i % 9 == 0 ? 0.0 : u(rng) - 0.5);
    delta[i] = T(u(rng) * 0.999);
    start[i] = i == 5 ? n + 10 : static_cast<std::int64_t>(u(rng) * n);
    env[i] = static_cast<std::int32_t>(i % (rows + 1)) - 1;
  }
  std::vector<T> gate(rows * n);
  for (long r = 0; r < rows; ++r)
    for (long t = 0; t < n; ++t) gate[r * n + t] = T(t < (r + 1) * n / 4 ? 0.0 : 1.0);
  pk::cpu::ModalBank<T> bank{m_count, omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
                             start.data(), env.data()};
  pk::cpu::ModalOptions opt;
  opt.rel_threshold = 0;
  std::vector<T> want(n);
  pk::cpu::ref::modal_forward(bank, gate.data(), rows, n, want.data(), opt);

  DeviceBuffer<T> d_omega(omega), d_sigma(sigma), d_dgain(dgain), d_amp(amp), d_delta(delta), d_gate(gate), dy(n);
  DeviceBuffer<std::int64_t> d_start(start);
  DeviceBuffer<std::int32_t> d_env(env);
  gpu::ModalBankDev<T> db{m_count, d_omega.data(), d_sigma.data(), d_dgain.data(), d_amp.data(),
                          d_delta.data(), d_start.data(), d_env.data()};
  gpu::modal_forward(db, d_gate.data(), rows, n, dy.data());
  expect_close(dy.to_host(), want, tol, "modal_forward");
}
TEST(CudaModal, ScanForwardMatchesCpuReferenceFloat) { PG_REQUIRE_GPU(); check_modal<float>(1e-3); }
TEST(CudaModal, ScanForwardMatchesCpuReferenceDouble) { PG_REQUIRE_GPU(); check_modal<double>(1e-10); }

}  // namespace
