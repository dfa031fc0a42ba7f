// Rotary position embedding (RoPE, Su et al. 2021) as one op: each pair (x_i, x_{i + Dh/2}) of the last
// axis is rotated by the angle of its position, y1 = x1 cos - x2 sin, y2 = x1 sin + x2 cos. The
// attention score q_t . k_s then depends on t - s only. Written as recorded ops it is two slices, four
// products, a sum, a difference and a concat, forward and backward; here one pass each way.
#pragma once
#include <cstdint>

#include "autodiff/tensor.h"

namespace pianograd {

// x [..., T, Dh] (Dh even); cos, sin [P, Dh / 2], the tables cos(angle(p, i)), sin(angle(p, i)), of x's
// dtype and device; position of x's row t is pos0 + t (pos0 >= 0, pos0 + T <= P). Differentiable in x
// (the tables are constants; the VJP is the rotation by the negative angle).
Tensor rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin, int64_t pos0 = 0);

}  // namespace pianograd
