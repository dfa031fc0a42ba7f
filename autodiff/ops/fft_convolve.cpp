// Causal FFT convolution with an impulse response, truncated to the signal length. Both gradients
// are correlations, computed as convolutions with a reversed operand (derivation in the comments).
#include <algorithm>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/spectral.h"
#include "autodiff/tape.h"
#include "kernels/cpu/fft.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd {

PG_REGISTER_OP(fft_convolve);

namespace kc = kernels::cpu;

namespace {
// The CUDA path: the forward and both VJPs as batched cuFFT convolutions (kernels/cuda/fft_convolve.cu),
// with the reversals and windows of the CPU VJP below folded into the kernel's pack/extract steps.
// B rows of T samples against a filter of K taps, `count` outputs (the fields the three calls share).
kernels::cuda::FftConvGeom conv_geom(long B, long T, long K, long count) {
  kernels::cuda::FftConvGeom g;
  g.batch = B;
  g.x_len = T;
  g.h_len = K;
  g.count = count;
  return g;
}

Tensor fft_convolve_cuda(const Tensor& x, const Tensor& h, long T, long K, long B) {
  const char* op = "fft_convolve";
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  void* stream = cuda_launch_context(x);
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using Tp = decltype(tag);
    const kernels::cuda::FftConvGeom g = conv_geom(B, T, K, T);
    kernels::cuda::fft_convolve<Tp>(x.device_data<Tp>(), h.device_data<Tp>(), y.device_data<Tp>(), g, stream);
    return 0;
  });
  record(y, op, {x, h}, [xd = x.detach(), hd = h.detach(), T, K, B](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(xd.shape(), gy.dtype(), gy.device());
    Tensor gh = zeros(hd.shape(), gy.dtype(), gy.device());
    void* st = cuda_launch_context(gy);
    dispatch_floating(gy.dtype(), "fft_convolve", [&](auto tag) {
      using Tp = decltype(tag);
      // gx[i] = (rev(gy) * h)[T-1-i]: reversed in, window [0, T) read reversed.
      kernels::cuda::FftConvGeom a = conv_geom(B, T, K, T);
      a.x_reverse = a.y_reverse = true;
      kernels::cuda::fft_convolve<Tp>(gy.device_data<Tp>(), hd.device_data<Tp>(), gx.device_data<Tp>(), a, st);
      // gh[j] = sum_b (rev(x_b) * gy_b)[T-1+j] for j < min(K, T), zero beyond.
      kernels::cuda::FftConvGeom w = conv_geom(B, T, T, std::min(K, T));  // gy is the per-row filter
      w.start = T - 1;
      w.x_reverse = w.h_per_row = w.sum_rows = true;
      kernels::cuda::fft_convolve<Tp>(xd.device_data<Tp>(), gy.device_data<Tp>(), gh.device_data<Tp>(), w, st);
      return 0;
    });
    return {gx, gh};
  });
  return y;
}
}  // namespace

Tensor fft_convolve(const Tensor& x, const Tensor& h) {
  const char* op = "fft_convolve";
  check_floating(x, op);
  check_floating(h, op);
  check_same_dtype(x, h, op);
  if ((x.dim() != 1 && x.dim() != 2) || h.dim() != 1)
    throw ShapeError(std::string(op) + ": expected x [T] or [B,T] and h [K], got " + shape_str(x.shape()) + " and " +
                     shape_str(h.shape()));
  const long T = static_cast<long>(x.shape().back()), K = static_cast<long>(h.numel());
  const long B = x.dim() == 2 ? static_cast<long>(x.shape()[0]) : 1;
  if (K < 1 || T < 1) throw ShapeError(std::string(op) + ": empty operand: " + shape_str(x.shape()) + " and " + shape_str(h.shape()));
  if (x.is_cuda() || h.is_cuda()) [[unlikely]] {
    check_same_device(x, h, op);
    return fft_convolve_cuda(x, h, T, K, B);
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using Tp = decltype(tag);
    // Only the first T outputs are kept: the window kernel writes them straight into y.
    for (long b = 0; b < B; ++b) kc::fft_convolve_window<Tp>(x.data<Tp>() + b * T, T, h.data<Tp>(), K, 0, T, y.data<Tp>() + b * T);
    return 0;
  });
  record(y, op, {x, h}, [xd = x.detach(), hd = h.detach(), T, K, B](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(xd.shape(), gy.dtype());
    Tensor gh = zeros(hd.shape(), gy.dtype());
    dispatch_floating(gy.dtype(), "fft_convolve", [&](auto tag) {
      using Tp = decltype(tag);
      const long KT = std::min(K, T);
      std::vector<Tp> rev(static_cast<size_t>(T)), win(static_cast<size_t>(T));
      const Tp* g = gy.data<Tp>();
      Tp* ghp = gh.data<Tp>();
      for (long b = 0; b < B; ++b) {
        const Tp* gb = g + b * T;
        // gx[i] = sum_j h[j] gy[i+j] = (rev(gy) * h)[T-1-i]
        std::reverse_copy(gb, gb + T, rev.begin());
        kc::fft_convolve_window<Tp>(rev.data(), T, hd.data<Tp>(), K, 0, T, win.data());
        Tp* gxb = gx.data<Tp>() + b * T;
        for (long i = 0; i < T; ++i) gxb[i] = win[static_cast<size_t>(T - 1 - i)];
        // gh[j] = sum_n gy[n] x[n-j] = (rev(x) * gy)[T-1+j], zero for j >= T. Only this K-tap window:
        // an FFT of size T+K-1 instead of the full 2T-1 (half the work for a long signal).
        const Tp* xb = xd.data<Tp>() + b * T;
        std::reverse_copy(xb, xb + T, rev.begin());
        kc::fft_convolve_window<Tp>(rev.data(), T, gb, T, T - 1, KT, win.data());
        for (long j = 0; j < KT; ++j) ghp[j] += win[static_cast<size_t>(j)];
      }
      return 0;
    });
    return {gx, gh};
  });
  return y;
}

}  // namespace pianograd
