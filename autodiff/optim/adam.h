// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019, decoupled weight decay), step for
// step as torch.optim.Adam / AdamW (amsgrad off). The update is one fused pass per parameter
// (kernels::cpu::adam_update).
#pragma once
#include "autodiff/optim/optimizer.h"

namespace pianograd::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient; AdamW: p <- p (1 - lr wd)
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  const AdamOptions& options() const { return opt_; }

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled, const char* name);
  void update(size_t i, Tensor& param, const Tensor& grad, int64_t t) override;
  std::vector<std::string> slot_names() const override { return {"exp_avg", "exp_avg_sq"}; }

 private:
  AdamOptions opt_;
  bool decoupled_;
};

// PyTorch's AdamW default weight decay is 1e-2; pass it explicitly in the options.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamOptions& options) : Adam(std::move(params), options, true, "AdamW") {}
};

}  // namespace pianograd::optim
