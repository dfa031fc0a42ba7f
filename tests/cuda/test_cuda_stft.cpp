// The cuFFT STFT (kernels/cuda/stft.cu) against the CPU STFT, kernel level (magnitudes, spectra and
// the adjoint), and stft_magnitude / multi_resolution_stft_loss on CUDA tensors against the CPU ops
// (value and gradients of both sides). Skips with "no CUDA device".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/ops.h"
#include "autodiff/ops/spectral.h"
#include "kernels/cpu/stft.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"

namespace pg = pianograd;
namespace pk = pianograd::kernels;
namespace gpu = pianograd::kernels::cuda;
using gpu::DeviceBuffer;

namespace {

template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (T w : want) scale = std::max(scale, std::fabs(double(w)));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(double(got[i]), double(want[i]), tol * scale) << what << " at " << i;
}

template <class T>
void check_stft(long batch, long n_fft, long hop, long length, double tol) {
  const pk::cpu::StftGeometry g{n_fft, hop, length};
  const long count = batch * g.frames() * g.bins();
  std::vector<T> x(batch * length), gm(count);
  for (size_t i = 0; i < x.size(); ++i) x[i] = T(std::sin(0.031 * i) + 0.2 * std::cos(1.7 * i));
  for (long i = 0; i < count; ++i) gm[i] = T(std::cos(0.11 * i));
  std::vector<T> mag(count), gx(x.size(), T(0));
  std::vector<std::complex<T>> spec(count);
  pk::cpu::stft_magnitude<T>(x.data(), batch, g, mag.data(), spec.data());
  pk::cpu::stft_magnitude_backward<T>(gm.data(), spec.data(), batch, g, gx.data());

  DeviceBuffer<T> dx(x), dgm(gm), dmag(count), dspec(2 * count), dgx(std::vector<T>(x.size(), T(0)));
  gpu::stft_magnitude<T>(dx.data(), batch, g, dmag.data(), dspec.data());
  gpu::stft_magnitude_backward<T>(dgm.data(), dspec.data(), batch, g, dgx.data());
  gpu::synchronize();
  const std::string what = "n_fft " + std::to_string(n_fft) + " hop " + std::to_string(hop);
  expect_close(dmag.to_host(), mag, tol, what + " magnitude");
  std::vector<T> flat(2 * count);
  for (long i = 0; i < count; ++i) flat[2 * i] = spec[i].real(), flat[2 * i + 1] = spec[i].imag();
  expect_close(dspec.to_host(), flat, tol, what + " spectrum");
  expect_close(dgx.to_host(), gx, tol, what + " adjoint");
  // Without a spectrum buffer (forward only) the magnitudes are the same.
  DeviceBuffer<T> dmag2(count);
  gpu::stft_magnitude<T>(dx.data(), batch, g, dmag2.data(), nullptr);
  expect_close(dmag2.to_host(), mag, tol, what + " magnitude without spectrum");
}

TEST(CudaStft, KernelsMatchCpu) {
  if (!gpu::available()) GTEST_SKIP() << "no CUDA device";
  check_stft<float>(3, 512, 128, 4000, 1e-4);
  check_stft<float>(1, 64, 16, 50, 1e-4);  // frames reflect on both sides
  check_stft<double>(2, 256, 100, 3001, 1e-11);
  check_stft<double>(2, 8, 3, 5, 1e-11);  // signal shorter than a frame
}

void expect_tensor_close(const pg::Tensor& got, const pg::Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_TRUE(got.is_cuda()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  expect_close(got.cpu().to_vector<double>(), want.to_vector<double>(), tol, what);
}

TEST(CudaStft, OpsMatchCpu) {
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (pg::DType dt : {pg::DType::f32, pg::DType::f64}) {
    const double tol = dt == pg::DType::f32 ? 2e-4 : 1e-9;
    pg::Tensor x = pg::add(pg::rand({2, 3000}, dt), -0.5), t = pg::add(pg::rand({2, 3000}, dt), -0.5);
    {  // stft_magnitude through the tape
      pg::Tensor xc = x.detach().requires_grad_(), xg = x.detach().cuda().requires_grad_();
      const pg::Tensor yc = pg::stft_magnitude(xc, 256), yg = pg::stft_magnitude(xg, 256);
      expect_tensor_close(yg, yc, tol, "stft_magnitude");
      const pg::Tensor w = pg::rand(yc.shape(), dt);
      pg::sum(pg::mul(yc, w)).backward();
      pg::sum(pg::mul(yg, w.cuda())).backward();
      expect_tensor_close(xg.grad(), xc.grad(), tol, "stft_magnitude grad");
    }
    {  // the loss, both sides differentiated, non-default weights
      pg::SpectralLossOptions opt;
      opt.fft_sizes = {512, 128, 64};
      opt.log_weight = 0.5;
      pg::Tensor pc = x.detach().requires_grad_(), tc = t.detach().requires_grad_();
      pg::Tensor pgpu = x.detach().cuda().requires_grad_(), tgpu = t.detach().cuda().requires_grad_();
      const pg::Tensor lc = pg::multi_resolution_stft_loss(pc, tc, opt);
      const pg::Tensor lg = pg::multi_resolution_stft_loss(pgpu, tgpu, opt);
      expect_tensor_close(lg, lc, tol, "loss");
      pg::mul(lc, 3.0).backward();
      pg::mul(lg, 3.0).backward();
      expect_tensor_close(pgpu.grad(), pc.grad(), tol, "loss grad pred");
      expect_tensor_close(tgpu.grad(), tc.grad(), tol, "loss grad target");
    }
  }
}

TEST(CudaStft, MixedDevicesAreRejected) {
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const pg::Tensor a = pg::rand({1000}), b = pg::rand({1000}).cuda();
  EXPECT_THROW(pg::multi_resolution_stft_loss(a, b), pg::DeviceError);
}

}  // namespace
