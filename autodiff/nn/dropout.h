// Inverted dropout (Srivastava et al. 2014) as a module: identity in eval mode. Each call draws a
// fresh mask from a per-module counter so training is deterministic for a given seed.
#pragma once
#include "autodiff/nn/module.h"

namespace pianograd::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }

  const double p;

 private:
  uint64_t seed_, calls_ = 0;
};

}  // namespace pianograd::nn
