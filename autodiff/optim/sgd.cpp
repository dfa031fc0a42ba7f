#include "autodiff/optim/sgd.h"

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "kernels/cpu/optim.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::optim {

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options) : Optimizer(std::move(params), options.lr, "SGD"), opt_(options) {
  if (!(opt_.momentum >= 0.0)) throw ValueError("SGD: momentum must be >= 0, got " + std::to_string(opt_.momentum));
  if (!(opt_.weight_decay >= 0.0))
    throw ValueError("SGD: weight_decay must be >= 0, got " + std::to_string(opt_.weight_decay));
  if (opt_.nesterov && (opt_.momentum <= 0.0 || opt_.dampening != 0.0))
    throw ValueError("SGD: nesterov momentum requires momentum > 0 and zero dampening");
}

void SGD::update(size_t i, Tensor& param, const Tensor& grad, int64_t) {
  kernels::cpu::SgdStep s;
  s.lr = lr_;
  s.momentum = opt_.momentum;
  s.dampening = opt_.dampening;
  s.weight_decay = opt_.weight_decay;
  s.nesterov = opt_.nesterov;
  const bool use_buf = opt_.momentum != 0.0;
  s.first = use_buf && !has_slot(i, 0);
  if (param.is_cuda()) [[unlikely]] {  // kernels/common/sgd_math.h on the device (one streaming pass)
    check_same_device(param, grad, "SGD.step");
    void* stream = cuda_launch_context(param);
    dispatch_floating(param.dtype(), "SGD", [&](auto tag) {
      using T = decltype(tag);
      T* buf = use_buf ? slot(i, 0).template device_data<T>() : nullptr;
      kernels::cuda::sgd_update<T>(param.device_data<T>(), grad.device_data<T>(), buf, static_cast<long>(param.numel()),
                                   s, stream);
    });
    return;
  }
  dispatch_floating(param.dtype(), "SGD", [&](auto tag) {
    using T = decltype(tag);
    T* buf = use_buf ? slot(i, 0).template data<T>() : nullptr;
    kernels::cpu::sgd_update<T>(param.data<T>(), grad.data<T>(), buf, static_cast<long>(param.numel()), s);
  });
}

}  // namespace pianograd::optim
