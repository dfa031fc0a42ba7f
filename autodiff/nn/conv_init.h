// Shared by Conv1d/Conv2d (internal): argument checks and PyTorch's default initialisation.
#pragma once
#include <cmath>
#include <string>

#include "autodiff/nn/conv1d.h"
#include "autodiff/nn/init.h"

namespace pianograd::nn::detail {

inline void check_conv_args(const char* layer, int64_t cin, int64_t cout, int64_t k, const Conv1dOptions& o) {
  if (cin <= 0 || cout <= 0 || k <= 0)
    throw ValueError(std::string(layer) + ": channels and kernel_size must be positive, got in " + std::to_string(cin) +
                     ", out " + std::to_string(cout) + ", kernel " + std::to_string(k));
  if (o.stride <= 0 || o.dilation <= 0 || o.padding < 0 || o.groups <= 0)
    throw ValueError(std::string(layer) + ": need stride > 0, dilation > 0, padding >= 0, groups > 0");
  if (cin % o.groups || cout % o.groups)
    throw ValueError(std::string(layer) + ": in_channels " + std::to_string(cin) + " and out_channels " +
                     std::to_string(cout) + " must be divisible by groups " + std::to_string(o.groups));
}

// kaiming_uniform(a = sqrt 5) on the weight gives U(±1/sqrt(fan_in)); the bias uses the same bound.
inline void init_conv(Tensor& w, Tensor* b) {
  init::kaiming_uniform_(w, std::sqrt(5.0));
  if (b) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(w).first));
    init::uniform_(*b, -bound, bound);
  }
}

}  // namespace pianograd::nn::detail
