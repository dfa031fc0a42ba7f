// Gradient-check cases for the direct convolution path (kernels/cpu/conv_direct.h, chosen for stride-1
// convs with few channels): padded 3x3, the transcriber's [k x 1] dilated and [1 x k] kernels, the
// full-width [1 x 3] readout, and a dilated padded conv1d — every shape class the driver special-cases.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"conv2d", {{2, 3, 5, 7}, {4, 3, 3, 3}, {4}}, [](V in) { return conv2d(in[0], in[1], in[2], 1, 1); }, 1e-6,
     nullptr, "direct 3x3 padding 1"},
    {"conv2d", {{2, 3, 9, 4}, {5, 3, 3, 1}, {5}}, [](V in) { return conv2d(in[0], in[1], in[2], 1, 0, 2); }, 1e-6,
     nullptr, "direct [3x1] dilation 2"},
    {"conv2d", {{1, 2, 4, 3}, {3, 2, 3, 1}}, [](V in) { return conv2d(in[0], in[1], Tensor(), 1, 0, 1); }, 1e-6,
     nullptr, "direct [3x1], output shorter than the taps' reach"},
    {"conv2d", {{2, 3, 3, 9}, {2, 3, 1, 5}, {2}}, [](V in) { return conv2d(in[0], in[1], in[2]); }, 1e-6, nullptr,
     "direct [1x5]"},
    {"conv2d", {{2, 3, 6, 3}, {4, 3, 1, 3}, {4}}, [](V in) { return conv2d(in[0], in[1], in[2]); }, 1e-6, nullptr,
     "direct full-width readout [1x3] over width 3"},
    {"conv1d", {{2, 3, 10}, {4, 3, 5}, {4}}, [](V in) { return conv1d(in[0], in[1], in[2], 1, 4, 2); }, 1e-6,
     nullptr, "direct k5 padding 4 dilation 2"});

}  // namespace
}  // namespace pianograd::testing
