// Gradient-check cases for matmul (1-D promotion, 2-D, batched with broadcasting), bmm and linear.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

// [10, 6]: column j covers rows [lo_j, lo_j + len_j); column 4 is empty.
Tensor banded_mask() {
  const int lo[6] = {0, 1, 3, 4, 0, 8}, len[6] = {2, 3, 1, 3, 0, 2};
  std::vector<double> m(60, 0.0);
  for (int j = 0; j < 6; ++j)
    for (int i = lo[j]; i < lo[j] + len[j]; ++i) m[static_cast<size_t>(i * 6 + j)] = 1.0;
  return from_vector(m, {10, 6});
}

PG_GRAD_CASES(
    {"matmul", {{3, 4}, {4, 5}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "2-D"},
    {"matmul", {{4}, {4}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "1-D dot"},
    {"matmul", {{4}, {4, 3}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "vector @ matrix"},
    {"matmul", {{2, 3, 4}, {4}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "batched @ vector"},
    {"matmul", {{2, 3, 4}, {4, 5}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "batched @ shared"},
    {"matmul", {{3, 4}, {2, 4, 5}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "shared @ batched"},
    {"matmul", {{2, 1, 3, 4}, {3, 4, 2}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr,
     "broadcast batch dims"},
    {"bmm", {{3, 2, 4}, {3, 4, 5}}, [](V in) { return bmm(in[0], in[1]); }},
    {"linear", {{3, 4}, {5, 4}, {5}}, [](V in) { return linear(in[0], in[1], in[2]); }, 1e-6, nullptr, "with bias"},
    {"linear", {{2, 3, 4}, {5, 4}}, [](V in) { return linear(in[0], in[1]); }, 1e-6, nullptr, "batched, no bias"},
    {"linear", {{4}, {2, 4}}, [](V in) { return linear(in[0], in[1]); }, 1e-6, nullptr, "1-D input"},
    // A filterbank-like w (bands of 1-3 rows, one empty column): the banded path, both gradients.
    {"banded_matmul", {{2, 3, 10}, {10, 6}}, [](V in) { return banded_matmul(in[0], in[1] * banded_mask()); },
     1e-6, nullptr, "banded"},
    // Dense w: the matmul fallback.
    {"banded_matmul", {{3, 4}, {4, 5}}, [](V in) { return banded_matmul(in[0], in[1]); }, 1e-6, nullptr,
     "dense fallback"});

}  // namespace
}  // namespace pianograd::testing
