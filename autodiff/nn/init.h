// In-place parameter initialisers (torch.nn.init), drawing from the global generator so that
// manual_seed() makes model construction reproducible.
#pragma once
#include <string>
#include <utility>

#include "autodiff/tensor.h"

namespace pianograd::nn::init {

// (fan_in, fan_out) of a weight: [out, in] for Linear; [out, in/groups, k...] for convolutions,
// where both fans are multiplied by the receptive field size (PyTorch's _calculate_fan_in_and_fan_out).
std::pair<int64_t, int64_t> fans(const Tensor& w);

// Recommended gain for a nonlinearity ("linear", "conv", "sigmoid", "tanh", "relu", "leaky_relu"
// with negative slope `param`, "selu"), as torch.nn.init.calculate_gain.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

enum class FanMode { fan_in, fan_out };

void uniform_(Tensor& t, double lo = 0.0, double hi = 1.0);
void normal_(Tensor& t, double mean = 0.0, double stddev = 1.0);
void constant_(Tensor& t, double value);
void zeros_(Tensor& t);
void ones_(Tensor& t);
// U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010)
void xavier_uniform_(Tensor& t, double gain = 1.0);
// N(0, gain^2 2 / (fan_in + fan_out))
void xavier_normal_(Tensor& t, double gain = 1.0);
// U(-b, b), b = gain(nonlinearity, a) sqrt(3 / fan)   (He et al. 2015)
void kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu");
// N(0, (gain / sqrt(fan))^2)
void kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                     const std::string& nonlinearity = "leaky_relu");

}  // namespace pianograd::nn::init
