// Gradient-check cases for matmul (1-D promotion, 2-D, batched with broadcasting) and bmm.
#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

PG_GRAD_CASES(
    {"matmul", {{3, 4}, {4, 5}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "2-D"},
    {"matmul", {{4}, {4}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "1-D dot"},
    {"matmul", {{4}, {4, 3}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "vector @ matrix"},
    {"matmul", {{2, 3, 4}, {4}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "batched @ vector"},
    {"matmul", {{2, 3, 4}, {4, 5}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "batched @ shared"},
    {"matmul", {{3, 4}, {2, 4, 5}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr, "shared @ batched"},
    {"matmul", {{2, 1, 3, 4}, {3, 4, 2}}, [](V in) { return matmul(in[0], in[1]); }, 1e-6, nullptr,
     "broadcast batch dims"},
    {"bmm", {{3, 2, 4}, {3, 4, 5}}, [](V in) { return bmm(in[0], in[1]); }});

}  // namespace
}  // namespace pianograd::testing
