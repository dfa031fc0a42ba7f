#include "autodiff/nn/dropout.h"

#include "autodiff/ops.h"

namespace pianograd::nn {

Dropout::Dropout(double p_, uint64_t seed) : p(p_), seed_(seed) {
  if (!(p >= 0.0 && p < 1.0)) throw ValueError("Dropout: p must be in [0, 1), got " + std::to_string(p));
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  // Golden-ratio increment: consecutive calls get well-separated seeds.
  return dropout(x, p, true, seed_ + 0x9e3779b97f4a7c15ull * ++calls_);
}

}  // namespace pianograd::nn
