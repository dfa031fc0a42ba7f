// The CUDA paths of stft_magnitude and multi_resolution_stft_loss (issue 6) over kernels/cuda/stft.cu
// (cuFFT). autodiff/ops/spectral.cpp validates the inputs and builds the geometries, then hands CUDA
// inputs here. The loss stays on the device: its value is accumulated in a device double and the
// backward reads the incoming gradient from device memory, so neither direction syncs with the host.
#include <memory>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/ops/spectral.h"
#include "autodiff/tape.h"
#include "kernels/cpu/stft.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::detail {

namespace kcu = kernels::cuda;

Tensor stft_magnitude_cuda(const Tensor& x, const kernels::cpu::StftGeometry& g, int64_t batch, const Shape& out) {
  const Device dev = x.device();
  Tensor y = Tensor::empty(out, x.dtype(), dev);
  const int64_t count = batch * g.frames() * g.bins();
  const bool need = grad_enabled() && x.requires_grad();
  Tensor spec = need ? Tensor::empty({2 * count}, x.dtype(), dev) : Tensor();  // interleaved (re, im)
  void* stream = cuda_launch_context(x);
  dispatch_floating(x.dtype(), "stft_magnitude", [&](auto tag) {
    using T = decltype(tag);
    kcu::stft_magnitude<T>(x.device_data<T>(), static_cast<long>(batch), g, y.device_data<T>(),
                           need ? spec.device_data<T>() : nullptr, stream);
    return 0;
  });
  record(y, "stft_magnitude", {x}, [spec, g, batch, xs = x.shape()](const Tensor& gy) -> Grads {
    Tensor gx = zeros(xs, gy.dtype(), gy.device());
    void* st = cuda_launch_context(gy);
    dispatch_floating(gy.dtype(), "stft_magnitude", [&](auto tag) {
      using T = decltype(tag);
      kcu::stft_magnitude_backward<T>(gy.device_data<T>(), spec.device_data<T>(), static_cast<long>(batch), g,
                                      gx.device_data<T>(), nullptr, st);
      return 0;
    });
    return {gx};
  });
  return y;
}

Tensor spectral_loss_cuda(const Tensor& pred, const Tensor& target, const std::vector<kernels::cpu::StftGeometry>& gs,
                          int64_t batch, const SpectralLossOptions& opt) {
  const char* op = "multi_resolution_stft_loss";
  const Device dev = pred.device();
  const DType dt = pred.dtype();
  // Per scale: the geometry, the spectra and dLoss/dmag of each side the backward differentiates.
  struct Scale {
    kernels::cpu::StftGeometry g;
    Tensor sp, st, gp, gt;
  };
  auto scales = std::make_shared<std::vector<Scale>>();
  const bool need_p = grad_enabled() && pred.requires_grad();
  const bool need_t = grad_enabled() && target.requires_grad();
  Tensor acc = zeros({1}, DType::f64, dev);
  Tensor y = Tensor::empty({}, dt, dev);
  void* stream = cuda_launch_context(pred);
  dispatch_floating(dt, op, [&](auto tag) {
    using T = decltype(tag);
    for (const auto& g : gs) {
      const int64_t count = batch * g.frames() * g.bins();
      Scale s{g, {}, {}, {}, {}};
      Tensor mp = Tensor::empty({count}, dt, dev), mt = Tensor::empty({count}, dt, dev);
      if (need_p) s.sp = Tensor::empty({2 * count}, dt, dev), s.gp = Tensor::empty({count}, dt, dev);
      if (need_t) s.st = Tensor::empty({2 * count}, dt, dev), s.gt = Tensor::empty({count}, dt, dev);
      kcu::stft_magnitude<T>(pred.device_data<T>(), static_cast<long>(batch), g, mp.device_data<T>(),
                             need_p ? s.sp.device_data<T>() : nullptr, stream);
      kcu::stft_magnitude<T>(target.device_data<T>(), static_cast<long>(batch), g, mt.device_data<T>(),
                             need_t ? s.st.device_data<T>() : nullptr, stream);
      kcu::spectral_l1_terms<T>(mp.device_data<T>(), mt.device_data<T>(), static_cast<long>(count),
                                static_cast<T>(opt.eps), static_cast<T>(opt.linear_weight),
                                static_cast<T>(opt.log_weight), need_p ? s.gp.device_data<T>() : nullptr,
                                need_t ? s.gt.device_data<T>() : nullptr, acc.device_data<double>(), stream);
      scales->push_back(std::move(s));
    }
    kcu::spectral_loss_finish<T>(acc.device_data<double>(), y.device_data<T>(), stream);
    return 0;
  });
  record(y, op, {pred, target}, [scales, batch, shape = pred.shape(), rp = need_p, rt = need_t](const Tensor& gy) -> Grads {
    Tensor gpred = rp ? zeros(shape, gy.dtype(), gy.device()) : Tensor();
    Tensor gtarget = rt ? zeros(shape, gy.dtype(), gy.device()) : Tensor();
    void* st = cuda_launch_context(gy);
    dispatch_floating(gy.dtype(), "multi_resolution_stft_loss", [&](auto tag) {
      using T = decltype(tag);
      for (const Scale& s : *scales) {
        if (rp)
          kcu::stft_magnitude_backward<T>(s.gp.device_data<T>(), s.sp.device_data<T>(), static_cast<long>(batch), s.g,
                                          gpred.device_data<T>(), gy.device_data<T>(), st);
        if (rt)
          kcu::stft_magnitude_backward<T>(s.gt.device_data<T>(), s.st.device_data<T>(), static_cast<long>(batch), s.g,
                                          gtarget.device_data<T>(), gy.device_data<T>(), st);
      }
      return 0;
    });
    return {gpred, gtarget};
  });
  return y;
}

}  // namespace pianograd::detail
