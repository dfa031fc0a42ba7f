// The recurrence of a GRU layer as one op (what cuDNN's RNN API fuses): the time loop, its T small
// GEMMs h W_hh^T and the gate arithmetic run inside the op, and its VJP is one backpropagation through
// time, instead of ~15 recorded ops per time step. nn::GRU uses it.
#pragma once
#include "autodiff/tensor.h"

namespace pianograd {

// gi [T, B, 3H]: the input projections W_ih x_t + b_ih of every step (gate order r, z, n as in
// torch.nn.GRU); w_hh [3H, H]; b_hh [3H] or undefined; h0 [B, H]. Returns the hidden states
// [T, B, H] (the last one is h_T). Differentiable in gi, w_hh, b_hh and h0. On CUDA tensors it runs as
// the equivalent chain of ops.
Tensor gru_recurrence(const Tensor& gi, const Tensor& w_hh, const Tensor& b_hh, const Tensor& h0);

}  // namespace pianograd
