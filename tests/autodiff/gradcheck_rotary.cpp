// Gradient-check cases of rotary_embedding (x checked; the tables are constants built here): a
// [B, H, T, Dh] batch from position 0, and a shorter block from an offset, as the KV-cache decoder calls it.
#include <cmath>

#include "gradcheck.h"

namespace pianograd::testing {
namespace {
using V = const std::vector<Tensor>&;

// cos / sin of angle(p, i) = p * 100^(-i / half), of the input's dtype.
Tensor table(int64_t P, int64_t half, bool sine) {
  Tensor t = zeros({P, half}, DType::f64);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * std::pow(100.0, -static_cast<double>(i) / static_cast<double>(half));
      t.data<double>()[p * half + i] = sine ? std::sin(a) : std::cos(a);
    }
  return t;
}

PG_GRAD_CASES(
    {"rotary_embedding", {{2, 3, 5, 6}},
     [](V in) { return rotary_embedding(in[0], table(8, 3, false), table(8, 3, true), 0); }, 1e-6, nullptr,
     "[2, 3, 5, 6] from position 0"},
    {"rotary_embedding", {{1, 2, 3, 4}},
     [](V in) { return rotary_embedding(in[0], table(9, 2, false), table(9, 2, true), 6); }, 1e-6, nullptr,
     "three rows from position 6"});

}  // namespace
}  // namespace pianograd::testing
