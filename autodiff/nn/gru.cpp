#include "autodiff/nn/gru.h"

#include <cmath>

#include "autodiff/nn/init.h"
#include "autodiff/ops.h"

namespace pianograd::nn {

GRU::GRU(int64_t in, int64_t hidden, int64_t layers, bool bias, DType dtype)
    : input_size(in), hidden_size(hidden), num_layers(layers) {
  if (in <= 0 || hidden <= 0 || layers <= 0)
    throw ValueError("GRU: input_size, hidden_size and num_layers must be positive");
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  auto param = [&](const std::string& name, const Shape& shape) {
    Tensor t = Tensor::empty(shape, dtype);
    init::uniform_(t, -bound, bound);
    return register_parameter(name, t);
  };
  for (int64_t l = 0; l < layers; ++l) {
    const std::string k = std::to_string(l);
    weight_ih.push_back(param("weight_ih_l" + k, {3 * hidden, l == 0 ? in : hidden}));
    weight_hh.push_back(param("weight_hh_l" + k, {3 * hidden, hidden}));
    if (bias) {
      bias_ih.push_back(param("bias_ih_l" + k, {3 * hidden}));
      bias_hh.push_back(param("bias_hh_l" + k, {3 * hidden}));
    }
  }
}

Tensor GRU::forward(const Tensor& x) { return forward(x, Tensor()).first; }

std::pair<Tensor, Tensor> GRU::forward(const Tensor& x, const Tensor& h0) {
  if (!x.defined() || x.dim() != 3 || x.size(2) != input_size)
    throw ShapeError("GRU: expected input [B, T, " + std::to_string(input_size) + "], got " +
                     (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  const int64_t B = x.size(0), T = x.size(1), H = hidden_size;
  if (h0.defined() && h0.shape() != Shape{num_layers, B, H})
    throw ShapeError("GRU: expected h0 " + shape_str({num_layers, B, H}) + ", got " + shape_str(h0.shape()));
  if (T == 0) throw ShapeError("GRU: empty sequence (T = 0)");

  // Time-major inside: x_t is then a contiguous slice of the precomputed input projections.
  Tensor seq = permute(x, {1, 0, 2});  // [T, B, in]
  std::vector<Tensor> finals;
  for (int64_t l = 0; l < num_layers; ++l) {
    // The input projections of all time steps in one matmul; only h W_hh^T stays in the loop.
    // linear() multiplies by the transposed weight in place: no [3H, H] transpose copy per time step.
    const Tensor gi = linear(seq, weight_ih[static_cast<size_t>(l)],
                             bias_ih.empty() ? Tensor() : bias_ih[static_cast<size_t>(l)]);  // [T, B, 3H]
    const Tensor h0l = h0.defined() ? h0.select(0, l) : zeros({B, H}, x.dtype(), x.device());
    // The time loop is one op (autodiff/ops/recurrent.h): its VJP is one backpropagation through time.
    seq = gru_recurrence(gi, weight_hh[static_cast<size_t>(l)],
                         bias_hh.empty() ? Tensor() : bias_hh[static_cast<size_t>(l)], h0l);  // [T, B, H]
    finals.push_back(seq.select(0, T - 1));
  }
  return {permute(seq, {1, 0, 2}), stack(finals, 0)};
}

}  // namespace pianograd::nn
