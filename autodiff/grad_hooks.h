// Grad-ready hooks: a callback per leaf that backward() runs once per pass, as soon as that leaf's
// gradient for the pass is complete, i.e. after the last recorded op that consumes it has run its VJP
// (or when the pass ends, for a leaf in the graph that no gradient reached). Data-parallel training
// starts reducing a bucket of gradients there while the rest of the backward pass still runs
// (autodiff/distributed/grad_reducer.h). Kept apart from tape.h so the hot headers stay small.
#pragma once
#include <functional>

#include "autodiff/tensor.h"

namespace pianograd {

// An empty hook removes the leaf's hook. The hook is not called by a backward() started on the leaf
// itself. GraphError for an undefined tensor or one computed by an op.
void set_grad_ready_hook(const Tensor& leaf, std::function<void(const Tensor&)> hook);

}  // namespace pianograd
