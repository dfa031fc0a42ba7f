// Helpers shared by the motion LM tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "autodiff/ops.h"
#include "models/motion_lm.h"

namespace pianograd::motion_test {

// A small transformer that trains in milliseconds: vocabulary 20, width 16, 2 layers, context 24.
inline MotionLMConfig tiny() {
  MotionLMConfig c;
  c.vocab_size = 20;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_ff = 32;
  c.context = 24;
  c.dropout = 0.0;
  c.seed = 3;
  return c;
}

// Token rows [B, T] (i64) from equal-length lists.
inline Tensor tokens(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  Tensor t = zeros({B, T}, DType::i64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i) t.data<int64_t>()[b * T + i] = rows[static_cast<size_t>(b)][static_cast<size_t>(i)];
  return t;
}

// One row [1, len] of tokens[from, from + len).
inline Tensor row(const std::vector<int32_t>& s, size_t from, size_t len) {
  return tokens({std::vector<int64_t>(s.begin() + static_cast<std::ptrdiff_t>(from),
                                      s.begin() + static_cast<std::ptrdiff_t>(from + len))});
}

inline double max_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(double(a.data<float>()[i]) - b.data<float>()[i]));
  return m;
}

}  // namespace pianograd::motion_test
