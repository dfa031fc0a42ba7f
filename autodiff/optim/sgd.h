// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// step for step as torch.optim.SGD (the fused loop is kernels::cpu::sgd_update).
#pragma once
#include "autodiff/optim/optimizer.h"

namespace pianograd::optim {

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0 (as PyTorch)
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  const SGDOptions& options() const { return opt_; }

 protected:
  void update(size_t i, Tensor& param, const Tensor& grad, int64_t t) override;
  std::vector<std::string> slot_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions opt_;
};

}  // namespace pianograd::optim
