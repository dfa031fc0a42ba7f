// STFT magnitude and the fused multi-resolution spectral loss; the FFTs and their adjoints live in
// kernels/cpu/stft.cpp.
#include "autodiff/ops/spectral.h"

#include <cmath>
#include <complex>
#include <memory>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/stft.h"

namespace pianograd {

PG_REGISTER_OP(stft_magnitude);
PG_REGISTER_OP(multi_resolution_stft_loss);

namespace kc = kernels::cpu;

namespace detail {  // autodiff/ops/spectral_cuda.cpp: the CUDA paths (inputs validated here)
Tensor stft_magnitude_cuda(const Tensor& x, const kc::StftGeometry& g, int64_t batch, const Shape& out);
Tensor spectral_loss_cuda(const Tensor& pred, const Tensor& target, const std::vector<kc::StftGeometry>& gs,
                          int64_t batch, const SpectralLossOptions& opt);
}  // namespace detail

namespace {

kc::StftGeometry geometry(const Tensor& x, int64_t n_fft, int64_t hop, const char* op) {
  if (x.dim() != 1 && x.dim() != 2)
    throw ShapeError(std::string(op) + ": expected audio [T] or [B,T], got " + shape_str(x.shape()));
  if (n_fft < 2 || n_fft % 2 != 0)
    throw ValueError(std::string(op) + ": n_fft must be even and >= 2, got " + std::to_string(n_fft));
  if (hop < 0) throw ValueError(std::string(op) + ": hop must be >= 0, got " + std::to_string(hop));
  const int64_t len = x.shape().back();
  if (len < 1) throw ShapeError(std::string(op) + ": empty signal of shape " + shape_str(x.shape()));
  return kc::StftGeometry{static_cast<long>(n_fft), static_cast<long>(hop ? hop : std::max<int64_t>(1, n_fft / 4)),
                          static_cast<long>(len)};
}

int64_t batch_of(const Tensor& x) { return x.dim() == 2 ? x.shape()[0] : 1; }

}  // namespace

Tensor stft_magnitude(const Tensor& x, int64_t n_fft, int64_t hop, int64_t max_bins) {
  check_floating(x, "stft_magnitude");
  kc::StftGeometry g = geometry(x, n_fft, hop, "stft_magnitude");
  if (max_bins < 0) throw ValueError("stft_magnitude: max_bins must be >= 0, got " + std::to_string(max_bins));
  const int64_t batch = batch_of(x);
  Shape out{g.frames(), g.bins()};
  if (x.dim() == 2) out.insert(out.begin(), batch);
  if (x.is_cuda()) [[unlikely]] {  // the whole spectrum, then the bins kept
    Tensor full = detail::stft_magnitude_cuda(x, g, batch, out);
    return max_bins > 0 && max_bins < g.bins() ? slice(full, -1, 0, max_bins) : full;
  }
  g.mag_bins = static_cast<long>(max_bins);
  out.back() = g.out_bins();
  Tensor y = Tensor::empty(out, x.dtype());
  return dispatch_floating(x.dtype(), "stft_magnitude", [&](auto tag) {
    using T = decltype(tag);
    // The spectra serve the backward only: not computed (nor their bins x frames buffer allocated) when
    // no gradient is wanted, e.g. a transcriber's front end on audio.
    if (!grad_enabled() || !x.requires_grad()) {
      kc::stft_magnitude<T>(x.data<T>(), static_cast<long>(batch), g, y.data<T>(), nullptr);
      return y;
    }
    auto spec = std::make_shared<std::vector<std::complex<T>>>(static_cast<size_t>(batch * g.frames() * g.bins()));
    kc::stft_magnitude<T>(x.data<T>(), static_cast<long>(batch), g, y.data<T>(), spec->data());
    record(y, "stft_magnitude", {x}, [spec, g, batch, xs = x.shape()](const Tensor& gy) -> Grads {
      Tensor gx = zeros(xs, gy.dtype());
      kc::stft_magnitude_backward<T>(gy.data<T>(), spec->data(), static_cast<long>(batch), g, gx.data<T>());
      return {gx};
    });
    return y;
  });
}

Tensor multi_resolution_stft_loss(const Tensor& pred, const Tensor& target, const SpectralLossOptions& opt) {
  const char* op = "multi_resolution_stft_loss";
  check_floating(pred, op);
  check_floating(target, op);
  check_same_dtype(pred, target, op);
  if (pred.shape() != target.shape())
    throw ShapeError(std::string(op) + ": pred and target shapes differ: " + shape_str(pred.shape()) + " vs " +
                     shape_str(target.shape()));
  if (opt.fft_sizes.empty()) throw ValueError(std::string(op) + ": no FFT sizes given");
  if (!(opt.overlap >= 0.0 && opt.overlap < 1.0))
    throw ValueError(std::string(op) + ": overlap must be in [0,1), got " + std::to_string(opt.overlap));
  const int64_t batch = batch_of(pred);
  if (pred.is_cuda() || target.is_cuda()) [[unlikely]] {
    check_same_device(pred, target, op);
    std::vector<kc::StftGeometry> gs;  // the hops of the CPU loop below
    for (int64_t n_fft : opt.fft_sizes)
      gs.push_back(geometry(pred, n_fft,
                            std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(n_fft) *
                                                                                   (1.0 - opt.overlap)))),
                            op));
    return detail::spectral_loss_cuda(pred, target, gs, batch, opt);
  }
  return dispatch_floating(pred.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    // Per scale: the geometry, both spectra and dLoss/dmag for each side, computed in the forward.
    struct Scale {
      kc::StftGeometry g;
      std::vector<std::complex<T>> sp, st;
      std::vector<T> gp, gt;
    };
    auto scales = std::make_shared<std::vector<Scale>>();
    // Spectra and dLoss/dmag are kept only for a side the backward will differentiate: the target is
    // usually a constant, and forward-only calls (evaluation, NoGrad) need neither, which saves
    // megabytes of fresh allocations (page faults) per call.
    const bool need_p = grad_enabled() && pred.requires_grad();
    const bool need_t = grad_enabled() && target.requires_grad();
    double loss = 0.0;
    const T eps = static_cast<T>(opt.eps);
    for (int64_t n_fft : opt.fft_sizes) {
      const int64_t hop = std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(n_fft) * (1.0 - opt.overlap))));
      Scale s{geometry(pred, n_fft, hop, op), {}, {}, {}, {}};
      const size_t count = static_cast<size_t>(batch * s.g.frames() * s.g.bins());
      thread_local std::vector<T> mp, mt;  // magnitudes: scratch, not needed by the backward
      mp.resize(count);
      mt.resize(count);
      if (need_p) s.sp.resize(count), s.gp.resize(count);
      if (need_t) s.st.resize(count), s.gt.resize(count);
      kc::stft_magnitude<T>(pred.data<T>(), static_cast<long>(batch), s.g, mp.data(), need_p ? s.sp.data() : nullptr);
      kc::stft_magnitude<T>(target.data<T>(), static_cast<long>(batch), s.g, mt.data(), need_t ? s.st.data() : nullptr);
      const T inv_n = T(1) / static_cast<T>(count);
      double lin = 0.0, lg = 0.0;
      for (size_t i = 0; i < count; ++i) {
        const T d = mp[i] - mt[i];
        const T ld = std::log(mp[i] + eps) - std::log(mt[i] + eps);
        lin += std::fabs(static_cast<double>(d));
        lg += std::fabs(static_cast<double>(ld));
        const T sd = static_cast<T>((d > 0) - (d < 0)), sl = static_cast<T>((ld > 0) - (ld < 0));
        if (need_p) s.gp[i] = inv_n * (static_cast<T>(opt.linear_weight) * sd + static_cast<T>(opt.log_weight) * sl / (mp[i] + eps));
        if (need_t) s.gt[i] = -inv_n * (static_cast<T>(opt.linear_weight) * sd + static_cast<T>(opt.log_weight) * sl / (mt[i] + eps));
      }
      loss += (opt.linear_weight * lin + opt.log_weight * lg) / static_cast<double>(count);
      scales->push_back(std::move(s));
    }
    Tensor y = scalar(loss, pred.dtype());
    record(y, op, {pred, target},
           [scales, batch, shape = pred.shape(), rp = need_p, rt = need_t](
               const Tensor& gy) -> Grads {
             const T g = static_cast<T>(gy.item());
             Tensor gpred = rp ? zeros(shape, gy.dtype()) : Tensor();
             Tensor gtarget = rt ? zeros(shape, gy.dtype()) : Tensor();
             for (auto& s : *scales) {
               if (rp) {
                 std::vector<T> gm(s.gp.size());
                 for (size_t i = 0; i < gm.size(); ++i) gm[i] = g * s.gp[i];
                 kc::stft_magnitude_backward<T>(gm.data(), s.sp.data(), static_cast<long>(batch), s.g, gpred.data<T>());
               }
               if (rt) {
                 std::vector<T> gm(s.gt.size());
                 for (size_t i = 0; i < gm.size(); ++i) gm[i] = g * s.gt[i];
                 kc::stft_magnitude_backward<T>(gm.data(), s.st.data(), static_cast<long>(batch), s.g, gtarget.data<T>());
               }
             }
             return {gpred, gtarget};
           });
    return y;
  });
}

}  // namespace pianograd
