#include "autodiff/optim/adam.h"

#include <cmath>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "kernels/cpu/optim.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::optim {

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options) : Adam(std::move(params), options, false, "Adam") {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled, const char* name)
    : Optimizer(std::move(params), options.lr, name), opt_(options), decoupled_(decoupled) {
  const std::string n(name);
  if (!(opt_.beta1 >= 0.0 && opt_.beta1 < 1.0)) throw ValueError(n + ": beta1 must be in [0, 1), got " + std::to_string(opt_.beta1));
  if (!(opt_.beta2 >= 0.0 && opt_.beta2 < 1.0)) throw ValueError(n + ": beta2 must be in [0, 1), got " + std::to_string(opt_.beta2));
  if (!(opt_.eps >= 0.0)) throw ValueError(n + ": eps must be >= 0, got " + std::to_string(opt_.eps));
  if (!(opt_.weight_decay >= 0.0)) throw ValueError(n + ": weight_decay must be >= 0, got " + std::to_string(opt_.weight_decay));
}

void Adam::update(size_t i, Tensor& param, const Tensor& grad, int64_t t) {
  kernels::cpu::AdamStep s;
  s.lr = lr_;
  s.beta1 = opt_.beta1;
  s.beta2 = opt_.beta2;
  s.eps = opt_.eps;
  s.weight_decay = opt_.weight_decay;
  s.decoupled = decoupled_;
  s.bias_correction1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(t));
  s.bias_correction2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(t));
  if (param.device().type != DeviceType::CPU) [[unlikely]] {
    check_same_device(param, grad, name().c_str());
    void* stream = cuda_launch_context(param);
    dispatch_floating(param.dtype(), name().c_str(), [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::adam_update<T>(param.device_data<T>(), grad.device_data<T>(), slot(i, 0).template device_data<T>(),
                                    slot(i, 1).template device_data<T>(), static_cast<long>(param.numel()), s, stream);
    });
    return;
  }
  dispatch_floating(param.dtype(), name().c_str(), [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::adam_update<T>(param.data<T>(), grad.data<T>(), slot(i, 0).template data<T>(),
                                 slot(i, 1).template data<T>(), static_cast<long>(param.numel()), s);
  });
}

}  // namespace pianograd::optim
