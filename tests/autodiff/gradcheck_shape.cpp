// Gradient-check cases for the shape, join and index ops (reshape/permute/slice live in
// gradcheck_elementwise.cpp). Index tensors are fixed i64 constants with repeats, so the
// accumulating VJPs (gather -> scatter_add, embedding) are exercised.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

Tensor idx(const std::vector<int64_t>& v, const Shape& s) { return from_vector(v, s); }

PG_GRAD_CASES(
    {"reshape", {{2, 1, 3}}, [](V in) { return squeeze(in[0], 1); }, 1e-6, nullptr, "squeeze"},
    {"reshape", {{2, 3}}, [](V in) { return unsqueeze(in[0], -1); }, 1e-6, nullptr, "unsqueeze"},
    {"permute", {{2, 3, 4}}, [](V in) { return transpose(in[0], 0, 2); }, 1e-6, nullptr, "transpose"},
    {"expand", {{3, 1}}, [](V in) { return expand(in[0], {2, 3, 4}); }},
    {"expand", {{1}}, [](V in) { return expand(in[0], {5}); }, 1e-6, nullptr, "scalar-like"},
    {"expand", {{2, 1, 3}}, [](V in) { return expand(in[0], {-1, 4, -1}); }, 1e-6, nullptr, "-1 keeps"},
    {"concat", {{2, 3}, {4, 3}}, [](V in) { return concat({in[0], in[1]}, 0); }},
    {"concat", {{2, 3, 2}, {2, 1, 2}, {2, 4, 2}}, [](V in) { return concat({in[0], in[1], in[2]}, -2); },
     1e-6, nullptr, "middle dim, three inputs"},
    {"concat", {{2, 3}}, [](V in) { return concat({in[0], mul(in[0], 2.0)}, 1); }, 1e-6, nullptr,
     "same input twice"},
    {"stack", {{2, 3}, {2, 3}}, [](V in) { return stack({in[0], in[1]}, 0); }},
    {"stack", {{2, 3}, {2, 3}, {2, 3}}, [](V in) { return stack({in[0], in[1], in[2]}, -1); }, 1e-6, nullptr,
     "last dim"},
    {"pad", {{2, 3}}, [](V in) { return pad(in[0], {1, 2}, 0.5); }},
    {"pad", {{2, 3, 4}}, [](V in) { return pad(in[0], {0, 1, 2, 0, 1, 1}); }, 1e-6, nullptr, "all dims"},
    {"pad", {{3, 5}}, [](V in) { return pad(in[0], {-1, 2, 1, -2}); }, 1e-6, nullptr, "negative crops"},
    {"gather", {{3, 4}}, [](V in) { return gather(in[0], 1, idx({0, 0, 3, 1, 2, 2, 1, 0, 3}, {3, 3})); }},
    {"gather", {{4, 3}}, [](V in) { return gather(in[0], 0, idx({3, 0, 1, 1}, {2, 2})); }, 1e-6, nullptr,
     "dim 0, smaller index"},
    {"scatter_add", {{3, 4}, {3, 2}},
     [](V in) { return scatter_add(in[0], 1, idx({0, 0, 3, 1, 2, 2}, {3, 2}), in[1]); }},
    {"scatter_add", {{4, 2}, {3, 3}},
     [](V in) { return scatter_add(in[0], 0, idx({1, 3, 1, 0}, {2, 2}), in[1]); }, 1e-6, nullptr,
     "src larger than index"},
    {"index_select", {{4, 3}}, [](V in) { return index_select(in[0], 0, idx({3, 1, 3}, {3})); }},
    {"index_select", {{2, 5, 3}}, [](V in) { return index_select(in[0], 1, idx({4, 0, 0, 2}, {4})); }, 1e-6,
     nullptr, "middle dim"},
    {"embedding", {{5, 3}}, [](V in) { return embedding(in[0], idx({4, 1, 1, 0, 4, 4}, {2, 3})); }});

}  // namespace
}  // namespace pianograd::testing
