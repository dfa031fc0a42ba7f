// Gradient-check cases for conv2d with per-axis stride / padding / dilation (both the direct path,
// chosen for stride-1 convs with few channels, and im2col + GEMM, forced here by a stride of 2), and
// for harmonic_stack (shifts of both signs, zero, and beyond the row length).
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"conv2d", {{2, 3, 7, 4}, {4, 3, 3, 1}, {4}},
     [](V in) { return conv2d(in[0], in[1], in[2], {1, 1}, {2, 0}, {2, 1}); }, 1e-6, nullptr,
     "direct [3x1] padded in time only, dilation {2,1}"},
    {"conv2d", {{2, 3, 3, 9}, {2, 3, 1, 5}, {2}}, [](V in) { return conv2d(in[0], in[1], in[2], {1, 1}, {0, 2}); },
     1e-6, nullptr, "direct [1x5] padded in width only"},
    {"conv2d", {{1, 2, 5, 6}, {3, 2, 3, 3}, {3}}, [](V in) { return conv2d(in[0], in[1], in[2], {1, 1}, {1, 2}); },
     1e-6, nullptr, "direct 3x3 padding {1,2}"},
    {"conv2d", {{2, 2, 7, 5}, {3, 2, 3, 2}}, [](V in) { return conv2d(in[0], in[1], Tensor(), {2, 1}, {1, 0}, {1, 2}); },
     1e-6, nullptr, "im2col stride {2,1} padding {1,0} dilation {1,2}"},
    {"conv2d", {{2, 3, 6, 5}, {4, 3, 3, 1}, {4}},
     [](V in) { return conv2d(in[0], in[1], in[2], {1, 1}, {1, 0}, {1, 1}, 1, ConvActivation::relu); }, 1e-6, nullptr,
     "direct [3x1] with fused relu"},
    {"conv2d", {{2, 2, 7, 5}, {3, 2, 3, 2}, {3}},
     [](V in) { return conv2d(in[0], in[1], in[2], {2, 1}, {1, 0}, {1, 1}, 1, ConvActivation::relu); }, 1e-6, nullptr,
     "im2col with fused relu"},
    {"conv2d_concat", {{2, 3, 6, 5}, {2, 2, 6, 5}, {4, 5, 3, 1}, {4}},
     [](V in) { return conv2d_concat(in[0], in[1], in[2], in[3], {1, 1}, {1, 0}, {1, 1}, ConvActivation::relu); },
     1e-6, nullptr, "two-input direct [3x1] over [x | x2] with fused relu"},
    {"conv2d_concat", {{2, 1, 7, 4}, {2, 3, 7, 4}, {5, 4, 3, 1}},
     [](V in) { return conv2d_concat(in[0], in[1], in[2], Tensor(), {1, 1}, {2, 0}, {2, 1}, ConvActivation::relu); },
     1e-6, nullptr, "two-input direct, dilation {2,1}, no bias, 5 output channels"},
    {"conv2d_concat", {{1, 2, 5, 6}, {1, 1, 5, 6}, {3, 3, 3, 3}, {3}},
     [](V in) { return conv2d_concat(in[0], in[1], in[2], in[3], {1, 1}, {1, 1}); }, 1e-6, nullptr,
     "concat + conv2d fallback (3x3, no activation)"},
    {"harmonic_stack", {{2, 3, 10}}, [](V in) { return harmonic_stack(in[0], {-12, -3, 0, 2, 7}); }},
    {"harmonic_stack", {{1, 2, 4}}, [](V in) { return harmonic_stack(in[0], {5, -4, 1}); }, 1e-6, nullptr,
     "shifts at and beyond the row length"});

}  // namespace
}  // namespace pianograd::testing
