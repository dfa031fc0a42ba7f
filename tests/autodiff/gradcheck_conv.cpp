// Gradient-check cases for convolutions and pooling: stride 2, padding, dilation 2, groups 2, with and
// without bias, pointwise (1x1) kernels, and the pooling paddings.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"conv1d", {{2, 3, 9}, {4, 3, 3}, {4}}, [](V in) { return conv1d(in[0], in[1], in[2]); }, 1e-6, nullptr,
     "plain with bias"},
    {"conv1d", {{2, 4, 11}, {6, 2, 3}}, [](V in) { return conv1d(in[0], in[1], Tensor(), 2, 1, 1, 2); }, 1e-6,
     nullptr, "stride 2 padding 1 groups 2"},
    {"conv1d", {{1, 2, 12}, {3, 2, 3}, {3}}, [](V in) { return conv1d(in[0], in[1], in[2], 1, 2, 2); }, 1e-6,
     nullptr, "dilation 2 padding 2"},
    {"conv1d", {{2, 3, 5}, {4, 3, 1}}, [](V in) { return conv1d(in[0], in[1]); }, 1e-6, nullptr, "pointwise"},
    {"conv2d", {{2, 2, 5, 6}, {3, 2, 3, 3}, {3}}, [](V in) { return conv2d(in[0], in[1], in[2], 1, 1); }, 1e-6,
     nullptr, "padding 1 with bias"},
    {"conv2d", {{1, 4, 7, 7}, {4, 2, 3, 3}}, [](V in) { return conv2d(in[0], in[1], Tensor(), 2, 0, 1, 2); },
     1e-6, nullptr, "stride 2 groups 2"},
    {"conv2d", {{1, 2, 7, 6}, {2, 2, 2, 2}, {2}}, [](V in) { return conv2d(in[0], in[1], in[2], 1, 1, 2); }, 1e-6,
     nullptr, "dilation 2"},
    {"conv_transpose1d", {{2, 3, 5}, {3, 2, 3}, {2}},
     [](V in) { return conv_transpose1d(in[0], in[1], in[2]); }, 1e-6, nullptr, "plain with bias"},
    {"conv_transpose1d", {{1, 4, 6}, {4, 3, 4}},
     [](V in) { return conv_transpose1d(in[0], in[1], Tensor(), 2, 1, 1, 1, 2); }, 1e-6, nullptr,
     "stride 2 padding 1 output_padding 1 groups 2"},
    {"conv_transpose1d", {{2, 2, 5}, {2, 2, 3}, {2}},
     [](V in) { return conv_transpose1d(in[0], in[1], in[2], 1, 2, 0, 2); }, 1e-6, nullptr, "dilation 2"},
    {"max_pool1d", {{2, 3, 10}}, [](V in) { return max_pool1d(in[0], 3, 2, 1); }, 1e-6, distinct_input,
     "k3 s2 p1"},
    {"max_pool1d", {{1, 2, 8}}, [](V in) { return max_pool1d(in[0], 2); }, 1e-6, distinct_input, "stride = k"},
    {"avg_pool1d", {{2, 3, 10}}, [](V in) { return avg_pool1d(in[0], 3, 2, 1); }, 1e-6, nullptr, "k3 s2 p1"},
    {"avg_pool1d", {{1, 2, 9}}, [](V in) { return avg_pool1d(in[0], 3); }},
    {"max_pool2d", {{1, 2, 6, 7}}, [](V in) { return max_pool2d(in[0], 3, 2, 1); }, 1e-6, distinct_input,
     "k3 s2 p1"},
    {"max_pool2d", {{2, 1, 4, 4}}, [](V in) { return max_pool2d(in[0], 2); }, 1e-6, distinct_input},
    {"avg_pool2d", {{1, 2, 6, 7}}, [](V in) { return avg_pool2d(in[0], 3, 2, 1); }, 1e-6, nullptr, "k3 s2 p1"},
    {"avg_pool2d", {{2, 1, 4, 4}}, [](V in) { return avg_pool2d(in[0], 2); }});

}  // namespace
}  // namespace pianograd::testing
