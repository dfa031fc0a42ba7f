// Gradient-check cases of ctc_loss (logits checked; targets and lengths are constants built here): every
// reduction, padded frames past input_lengths, a repeated label (which needs a blank between), an empty
// target, a nonzero blank, and an infeasible sequence zeroed by zero_infinity next to feasible ones.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

Tensor ints(std::vector<int64_t> v, Shape s) { return from_vector<int64_t>(v, s); }

PG_GRAD_CASES(
    {"ctc_loss", {{2, 5, 4}},
     [](V in) {
       return ctc_loss(in[0], ints({1, 2, 3, 3}, {2, 2}), ints({5, 4}, {2}), ints({2, 2}, {2}), 0, Reduction::none);
     },
     1e-6, nullptr, "none, repeated label, a padded frame"},
    {"ctc_loss", {{3, 6, 5}},
     [](V in) {
       return ctc_loss(in[0], ints({1, 2, 1, 0, 0, 0, 4, 4, 0}, {3, 3}), ints({6, 3, 2}, {3}), ints({3, 0, 2}, {3}),
                       0, Reduction::mean, true);
     },
     1e-6, nullptr, "mean, empty target, infeasible zeroed"},
    {"ctc_loss", {{2, 4, 3}},
     [](V in) {
       return ctc_loss(in[0], ints({0, 1, 1, 0}, {2, 2}), ints({4, 3}, {2}), ints({2, 1}, {2}), 2,
                       Reduction::sum);
     },
     1e-6, nullptr, "sum, blank 2"});

}  // namespace
}  // namespace pianograd::testing
