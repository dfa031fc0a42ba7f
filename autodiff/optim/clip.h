// Gradient clipping by global L2 norm (Pascanu et al. 2013), as torch.nn.utils.clip_grad_norm_.
#pragma once
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd::optim {

// Computes the L2 norm of all gradients taken together (parameters without a gradient are skipped)
// and, when it exceeds max_norm, rescales every gradient by max_norm / (norm + 1e-6). Returns the
// norm before clipping. The scaled gradients are new tensors: a gradient may alias another tensor
// (the tape hands one VJP output to several inputs), so scaling in place could scale it twice.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// The global L2 norm of the gradients, without clipping.
double grad_norm(const std::vector<Tensor>& params);

}  // namespace pianograd::optim
