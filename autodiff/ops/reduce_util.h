// Shared by the reduction ops (internal header).
#pragma once
#include "autodiff/ops/reduce.h"

namespace pianograd {
// Broadcast copy of x to `shape`, not recorded: the VJP of every reduction.
Tensor broadcast_to_raw(const Tensor& x, const Shape& shape);
// keepdim shape for reducing `axes` (empty = all); *count = number of reduced elements.
Shape reduced_shape(const Shape& s, const Axes& axes, const char* op, int64_t* count);
// The shape without the reduced axes.
Shape squeeze_reduced(const Shape& s, const Axes& axes);
}  // namespace pianograd
