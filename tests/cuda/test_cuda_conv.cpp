// CUDA convolution (kernels/cuda/conv.cu) against the CPU im2col drivers, at the kernel level over
// strides, padding, dilation and groups, and through conv1d / conv2d on CUDA tensors (forward and
// every gradient, bias included) against the same ops on the CPU. Skips with "no CUDA device".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"

namespace pg = pianograd;
namespace pk = pianograd::kernels;
namespace gpu = pianograd::kernels::cuda;
using gpu::DeviceBuffer;

namespace {

template <class T>
std::vector<T> random_vec(long n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(-1, 1);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(double(got[i]), double(want[i]), tol * std::max(1.0, std::fabs(double(want[i])))) << what << " at " << i;
}

pk::cpu::ConvGeom geom(long N, long C, long H, long W, long Cout, long groups, long KH, long KW, long s, long p,
                       long d) {
  pk::cpu::ConvGeom g;
  g.N = N;
  g.C = C;
  g.H = H;
  g.W = W;
  g.Cout = Cout;
  g.groups = groups;
  g.KH = KH;
  g.KW = KW;
  g.sh = H == 1 ? 1 : s;
  g.sw = s;
  g.ph = H == 1 ? 0 : p;
  g.pw = p;
  g.dh = H == 1 ? 1 : d;
  g.dw = d;
  g.OH = (H + 2 * g.ph - g.dh * (KH - 1) - 1) / g.sh + 1;
  g.OW = (W + 2 * p - d * (KW - 1) - 1) / s + 1;
  return g;
}

template <class T>
void check_conv_kernels(const pk::cpu::ConvGeom& g, double tol) {
  std::ostringstream os;  // (a chain of std::string + trips GCC 12's false -Wrestrict)
  os << "N" << g.N << " C" << g.C << " H" << g.H << " W" << g.W << " Cout" << g.Cout << " G" << g.groups << " K"
     << g.KH << "x" << g.KW << " s" << g.sw << " p" << g.pw << " d" << g.dw;
  const std::string what = os.str();
  const long xn = g.N * g.C * g.H * g.W, wn = g.Cout * (g.C / g.groups) * g.KH * g.KW, yn = g.N * g.Cout * g.out_hw();
  const auto x = random_vec<T>(xn, 1), w = random_vec<T>(wn, 2), b = random_vec<T>(g.Cout, 3),
             gy = random_vec<T>(yn, 4);
  std::vector<T> y(yn), gx(xn), gw(wn), gb(g.Cout, T(0));
  pk::cpu::conv_forward<T>(x.data(), w.data(), b.data(), y.data(), g);
  pk::cpu::conv_backward_input<T>(gy.data(), w.data(), gx.data(), g);
  pk::cpu::conv_backward_weight<T>(x.data(), gy.data(), gw.data(), g);
  for (long n = 0; n < g.N; ++n)
    for (long c = 0; c < g.Cout; ++c)
      for (long o = 0; o < g.out_hw(); ++o) gb[c] += gy[(n * g.Cout + c) * g.out_hw() + o];

  DeviceBuffer<T> dx(x), dw(w), db(b), dgy(gy), dy(yn), dgx(xn), dgw(wn), dgb(g.Cout);
  gpu::conv_forward<T>(dx.data(), dw.data(), db.data(), dy.data(), g);
  gpu::conv_backward_input<T>(dgy.data(), dw.data(), dgx.data(), g);
  gpu::conv_backward_weight<T>(dx.data(), dgy.data(), dgw.data(), g);
  gpu::conv_bias_backward<T>(dgy.data(), dgb.data(), g.N, g.Cout, g.out_hw());
  gpu::synchronize();
  expect_close(dy.to_host(), y, tol, what + " forward");
  expect_close(dgx.to_host(), gx, tol, what + " grad input");
  expect_close(dgw.to_host(), gw, tol, what + " grad weight");
  expect_close(dgb.to_host(), gb, tol, what + " grad bias");
}

template <class T>
void check_all(double tol) {
  if (!gpu::available()) GTEST_SKIP() << "no CUDA device";
  // 1-D (H = KH = 1) and 2-D; groups; stride > kernel (skipped inputs); dilation; pointwise.
  check_conv_kernels<T>(geom(3, 4, 1, 50, 6, 1, 1, 5, 1, 2, 1), tol);
  check_conv_kernels<T>(geom(2, 6, 1, 37, 9, 3, 1, 3, 2, 1, 2), tol);
  check_conv_kernels<T>(geom(4, 3, 1, 64, 5, 1, 1, 1, 1, 0, 1), tol);
  check_conv_kernels<T>(geom(2, 4, 9, 11, 8, 2, 3, 3, 1, 1, 1), tol);
  check_conv_kernels<T>(geom(3, 2, 12, 10, 4, 1, 2, 3, 3, 0, 1), tol);
  check_conv_kernels<T>(geom(1, 8, 7, 7, 8, 8, 3, 3, 2, 2, 2), tol);  // depthwise
}

TEST(CudaConv, KernelsMatchCpuFloat) { check_all<float>(1e-4); }
TEST(CudaConv, KernelsMatchCpuDouble) { check_all<double>(1e-11); }

// Through the ops: conv1d / conv2d / conv_transpose1d on CUDA tensors, loss sum(y * r), every gradient compared with the CPU.
void check_op(pg::DType dt, int kind, bool bias, int64_t stride, int64_t padding, int64_t dilation,
              int64_t groups) {
  const double tol = dt == pg::DType::f32 ? 1e-4 : 1e-10;
  // kind 0: conv1d, 1: conv2d, 2: conv_transpose1d (weight [Cin, Cout/groups, K]).
  const bool two_d = kind == 1;
  const pg::Shape xs = two_d ? pg::Shape{2, 4, 8, 9} : pg::Shape{3, 4, 40};
  const pg::Shape ws = two_d ? pg::Shape{6, 4 / groups, 3, 3}
                             : (kind == 2 ? pg::Shape{4, 6 / groups, 5} : pg::Shape{6, 4 / groups, 5});
  pg::Tensor x = pg::rand(xs, dt), w = pg::rand(ws, dt), b = pg::rand({6}, dt);
  std::vector<pg::Tensor> cpu{x.detach().requires_grad_(), w.detach().requires_grad_(), b.detach().requires_grad_()};
  std::vector<pg::Tensor> dev{x.detach().cuda().requires_grad_(), w.detach().cuda().requires_grad_(),
                              b.detach().cuda().requires_grad_()};
  auto run = [&](const std::vector<pg::Tensor>& in) {
    const pg::Tensor bb = bias ? in[2] : pg::Tensor();
    if (kind == 2) return pg::conv_transpose1d(in[0], in[1], bb, stride, padding, stride - 1, dilation, groups);
    return two_d ? pg::conv2d(in[0], in[1], bb, stride, padding, dilation, groups)
                 : pg::conv1d(in[0], in[1], bb, stride, padding, dilation, groups);
  };
  const pg::Tensor yc = run(cpu), yg = run(dev);
  ASSERT_TRUE(yg.is_cuda());
  const pg::Tensor r = pg::rand(yc.shape(), dt);
  pg::sum(pg::mul(yc, r)).backward();
  pg::sum(pg::mul(yg, r.cuda())).backward();
  expect_close(yg.cpu().to_vector<double>(), yc.to_vector<double>(), tol, "forward");
  for (int i = 0; i < (bias ? 3 : 2); ++i) {
    ASSERT_TRUE(dev[i].grad().defined()) << "grad " << i;
    ASSERT_TRUE(dev[i].grad().is_cuda()) << "grad " << i;
    expect_close(dev[i].grad().cpu().to_vector<double>(), cpu[i].grad().to_vector<double>(), tol,
                 "grad " + std::to_string(i));
  }
}

TEST(CudaConv, OpsMatchCpu) {
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (pg::DType dt : {pg::DType::f32, pg::DType::f64}) {
    check_op(dt, 0, true, 1, 2, 1, 1);
    check_op(dt, 0, false, 2, 1, 2, 2);
    check_op(dt, 1, true, 1, 1, 1, 1);
    check_op(dt, 1, true, 2, 0, 2, 2);
    check_op(dt, 2, true, 2, 1, 1, 1);
    check_op(dt, 2, false, 3, 0, 2, 2);
  }
}

}  // namespace
