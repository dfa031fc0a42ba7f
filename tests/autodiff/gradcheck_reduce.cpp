// Gradient-check cases for the reductions and softmaxes of autodiff/ops/reduce.h (sum and mean are in
// gradcheck_elementwise.cpp): keepdim, negative axes, size-1 dims, middle axes (the strided kernels)
// and last axes (the SIMD row kernels). max/min use distinct values so the arg-extremum is unique.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"var", {{3, 4}}, [](V in) { return var(in[0], {1}); }},
    {"var", {{2, 3, 4}}, [](V in) { return var(in[0], {0, -1}, true, 1); }, 1e-6, nullptr, "keepdim, unbiased"},
    {"var", {{2, 1, 5}}, [](V in) { return var(in[0], {-2}); }, 1e-6, nullptr, "size-1 axis"},
    {"var", {{2, 3}}, [](V in) { return var(in[0], {}, false, 1); }, 1e-6, nullptr, "all"},
    {"max", {{3, 5}}, [](V in) { return max(in[0], 1).first; }, 1e-6, distinct_input},
    {"max", {{2, 4, 3}}, [](V in) { return max(in[0], -2, true).first; }, 1e-6, distinct_input, "middle, keepdim"},
    {"max", {{2, 1, 3}}, [](V in) { return max(in[0], 1).first; }, 1e-6, distinct_input, "size-1 axis"},
    {"max", {{3, 4}}, [](V in) { return max(in[0]); }, 1e-6, distinct_input, "all"},
    {"min", {{4, 3}}, [](V in) { return min(in[0], 0).first; }, 1e-6, distinct_input},
    {"min", {{2, 9}}, [](V in) { return min(in[0], -1, true).first; }, 1e-6, distinct_input, "last, keepdim"},
    {"min", {{3, 4}}, [](V in) { return min(in[0]); }, 1e-6, distinct_input, "all"},
    {"logsumexp", {{3, 11}}, [](V in) { return logsumexp(in[0], -1); }},
    {"logsumexp", {{2, 3, 4}}, [](V in) { return logsumexp(in[0], 1, true); }, 1e-6, nullptr, "middle, keepdim"},
    {"logsumexp", {{4, 1}}, [](V in) { return logsumexp(in[0], 1); }, 1e-6, nullptr, "size-1 axis"},
    {"softmax", {{3, 10}}, [](V in) { return softmax(in[0]); }},
    {"softmax", {{2, 5, 3}}, [](V in) { return softmax(in[0], 1); }, 1e-6, nullptr, "middle axis"},
    {"softmax", {{4, 1}}, [](V in) { return softmax(in[0], -1); }, 1e-6, nullptr, "size-1 axis"},
    {"log_softmax", {{3, 17}}, [](V in) { return log_softmax(in[0]); }},
    {"log_softmax", {{3, 4, 2}}, [](V in) { return log_softmax(in[0], -3); }, 1e-6, nullptr, "first axis"},
    {"log_softmax", {{2, 9}}, [](V in) { return log_softmax(mul(in[0], 30.0), 1); }, 1e-6, nullptr,
     "large logits"});

}  // namespace
}  // namespace pianograd::testing
