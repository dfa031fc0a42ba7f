#include "autodiff/optim/clip.h"

#include <cmath>
#include <cstring>

#include "autodiff/dispatch.h"
#include "kernels/cpu/optim.h"

namespace pianograd::optim {

double grad_norm(const std::vector<Tensor>& params) {
  double total = 0.0;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    total += dispatch_floating(g.dtype(), "clip_grad_norm", [&](auto tag) {
      using T = decltype(tag);
      return kernels::cpu::sum_squares<T>(g.data<T>(), static_cast<long>(g.numel()));
    });
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  if (!(max_norm > 0.0)) throw ValueError("clip_grad_norm: max_norm must be > 0, got " + std::to_string(max_norm));
  const double norm = grad_norm(params);
  if (!std::isfinite(norm)) throw ValueError("clip_grad_norm: the total gradient norm is not finite");
  if (norm <= max_norm) return norm;
  const double coef = max_norm / (norm + 1e-6);
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor scaled = Tensor::empty(g.shape(), g.dtype());
    std::memcpy(scaled.raw_data(), g.raw_data(), g.nbytes());
    dispatch_floating(g.dtype(), "clip_grad_norm", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::scale_inplace<T>(scaled.data<T>(), static_cast<long>(scaled.numel()), coef);
    });
    Tensor(p).set_grad(scaled);
  }
  return norm;
}

}  // namespace pianograd::optim
