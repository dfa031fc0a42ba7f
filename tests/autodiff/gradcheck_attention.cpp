// Gradient-check cases of scaled_dot_product_attention (q, k, v all checked): causal and not, Tq == Tk,
// Tq < Tk (the end-aligned mask), Tq > Tk without a mask, an explicit scale, a key length past one
// 64-key tile of the CPU kernels, and a rank-3 input (leading dims are free).
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"scaled_dot_product_attention", {{2, 2, 5, 3}, {2, 2, 5, 3}, {2, 2, 5, 3}},
     [](V in) { return scaled_dot_product_attention(in[0], in[1], in[2], true); }, 1e-6, nullptr, "causal, Tq == Tk"},
    {"scaled_dot_product_attention", {{1, 2, 3, 4}, {1, 2, 6, 4}, {1, 2, 6, 4}},
     [](V in) { return scaled_dot_product_attention(in[0], in[1], in[2], true); }, 1e-6, nullptr, "causal, Tq < Tk"},
    {"scaled_dot_product_attention", {{2, 1, 3, 4}, {2, 1, 5, 4}, {2, 1, 5, 4}},
     [](V in) { return scaled_dot_product_attention(in[0], in[1], in[2], false); }, 1e-6, nullptr, "full, Tq < Tk"},
    {"scaled_dot_product_attention", {{1, 3, 6, 2}, {1, 3, 4, 2}, {1, 3, 4, 2}},
     [](V in) { return scaled_dot_product_attention(in[0], in[1], in[2], false, 0.7); }, 1e-6, nullptr,
     "full, Tq > Tk, scale 0.7"},
    {"scaled_dot_product_attention", {{1, 1, 4, 5}, {1, 1, 70, 5}, {1, 1, 70, 5}},
     [](V in) { return scaled_dot_product_attention(in[0], in[1], in[2], true); }, 1e-6, nullptr,
     "causal, two key tiles"},
    {"scaled_dot_product_attention", {{3, 4, 3}, {3, 4, 3}, {3, 4, 3}},
     [](V in) { return scaled_dot_product_attention(in[0], in[1], in[2], true, 0.5); }, 1e-6, nullptr,
     "rank 3, causal"});

}  // namespace
}  // namespace pianograd::testing
