// Gated recurrent unit (Cho et al. 2014), batch-first, one or more stacked layers: per layer one GEMM for
// the input projections and one gru_recurrence op for the time loop. Gate order and parameter names
// follow torch.nn.GRU:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)
//   z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//   h' = (1 - z) ⊙ n + z ⊙ h
#pragma once
#include <utility>

#include "autodiff/nn/module.h"

namespace pianograd::nn {

class GRU : public Module {
 public:
  // All weights and biases ~ U(±1/sqrt(hidden_size)) (PyTorch's default).
  GRU(int64_t input_size, int64_t hidden_size, int64_t num_layers = 1, bool bias = true, DType dtype = DType::f32);

  // x [B, T, input_size] -> outputs of the last layer [B, T, H].
  Tensor forward(const Tensor& x) override;
  // x [B, T, input_size], h0 [num_layers, B, H] (undefined = zeros) -> (outputs [B, T, H], h_n [num_layers, B, H]).
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& h0);
  std::string type_name() const override { return "GRU"; }

  const int64_t input_size, hidden_size, num_layers;
  // Per layer k: weight_ih_l{k} [3H, in_k], weight_hh_l{k} [3H, H], bias_ih_l{k}, bias_hh_l{k} [3H].
  std::vector<Tensor> weight_ih, weight_hh, bias_ih, bias_hh;
};

}  // namespace pianograd::nn
