// Gradient-check cases of gru_recurrence (gi, w_hh, b_hh and h0 all checked): with and without the
// recurrent bias, one step and several, a batch of one.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"gru_recurrence", {{4, 2, 9}, {9, 3}, {9}, {2, 3}},
     [](V in) { return gru_recurrence(in[0], in[1], in[2], in[3]); }, 1e-6, nullptr, "T 4, B 2, H 3, bias"},
    {"gru_recurrence", {{3, 1, 6}, {6, 2}, {1, 2}},
     [](V in) { return gru_recurrence(in[0], in[1], Tensor(), in[2]); }, 1e-6, nullptr, "no bias, B 1"},
    {"gru_recurrence", {{1, 3, 6}, {6, 2}, {6}, {3, 2}},
     [](V in) { return gru_recurrence(in[0], in[1], in[2], in[3]); }, 1e-6, nullptr, "one step"});

}  // namespace
}  // namespace pianograd::testing
