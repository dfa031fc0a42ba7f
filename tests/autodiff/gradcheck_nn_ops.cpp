// Gradient-check cases for layer_norm, dropout and the losses of autodiff/ops/nn_ops.h. Targets are
// fixed constants (cross_entropy, with ignored entries) or inputs themselves where the loss is
// differentiable in them (mse, l1, bce).
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

Tensor classes(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }

// Logits N(0,1); targets U[0,1); pos_weight U[0.5,2).
Tensor bce_init(const Shape& s, size_t i) {
  if (i == 1) return rand(s, DType::f64);
  if (i == 2) return positive_input(s, i);
  return randn(s, DType::f64);
}

PG_GRAD_CASES(
    {"layer_norm", {{3, 4, 5}, {4, 5}, {4, 5}}, [](V in) { return layer_norm(in[0], {4, 5}, in[1], in[2]); }},
    {"layer_norm", {{4, 6}}, [](V in) { return layer_norm(in[0], {6}); }, 1e-6, nullptr, "no affine"},
    {"layer_norm", {{2, 3, 7}, {7}}, [](V in) { return layer_norm(in[0], {7}, in[1]); }, 1e-6, nullptr,
     "weight only"},
    {"layer_norm", {{5, 3}, {3}}, [](V in) { return layer_norm(in[0], {3}, Tensor(), in[1], 1e-3); }, 1e-6,
     nullptr, "bias only, eps"},
    {"dropout", {{4, 8}}, [](V in) { return dropout(in[0], 0.3, true, 42); }},
    {"dropout", {{3, 3}}, [](V in) { return mul(dropout(in[0], 0.5, false, 1), in[0]); }, 1e-6, nullptr, "eval"},
    {"mse_loss", {{3, 4}, {3, 4}}, [](V in) { return mse_loss(in[0], in[1]); }},
    {"mse_loss", {{2, 5}, {2, 5}}, [](V in) { return mse_loss(in[0], in[1], Reduction::none); }, 1e-6, nullptr,
     "none"},
    {"l1_loss", {{3, 4}, {3, 4}}, [](V in) { return l1_loss(in[0], in[1], Reduction::sum); }, 1e-6,
     distinct_input},
    {"l1_loss", {{6}, {6}}, [](V in) { return l1_loss(in[0], in[1]); }, 1e-6, distinct_input, "mean"},
    {"bce_with_logits", {{3, 4}, {3, 4}}, [](V in) { return bce_with_logits(in[0], in[1]); }, 1e-6, bce_init},
    {"bce_with_logits", {{2, 3, 4}, {2, 3, 4}, {4}},
     [](V in) { return bce_with_logits(in[0], in[1], Reduction::sum, in[2]); }, 1e-6, bce_init, "pos_weight"},
    {"bce_with_logits", {{2, 5}, {2, 5}},
     [](V in) { return bce_with_logits(mul(in[0], 20.0), in[1], Reduction::none); }, 1e-6, bce_init,
     "large logits, none"},
    {"cross_entropy", {{4, 5}}, [](V in) { return cross_entropy(in[0], classes({1, -100, 4, 0}, {4})); }, 1e-6,
     nullptr, "one ignored"},
    {"cross_entropy", {{2, 3, 4}},
     [](V in) { return cross_entropy(in[0], classes({0, 2, 7, 1, 7, 7, 2, 0}, {2, 4}), 7, Reduction::sum); },
     1e-6, nullptr, "[N,C,d], ignore_index 7, sum"},
    {"cross_entropy", {{3, 4, 2}},
     [](V in) { return cross_entropy(in[0], classes({3, 0, 1, -100, 2, 2}, {3, 2}), -100, Reduction::none); },
     1e-6, nullptr, "none"},
    {"cross_entropy", {{6}}, [](V in) { return cross_entropy(in[0], classes({2}, {})); }, 1e-6, nullptr,
     "unbatched"});

}  // namespace
}  // namespace pianograd::testing
