#include "autodiff/nn/attention.h"

#include <cmath>
#include <limits>

#include "autodiff/nn/init.h"
#include "autodiff/ops.h"

namespace pianograd::nn {

MultiheadAttention::MultiheadAttention(int64_t d, int64_t h, bool bias, bool is_causal, DType dtype)
    : embed_dim(d), num_heads(h), head_dim(h > 0 ? d / h : 0), causal(is_causal) {
  if (d <= 0 || h <= 0 || d % h != 0)
    throw ValueError("MultiheadAttention: embed_dim " + std::to_string(d) + " must be positive and divisible by num_heads " +
                     std::to_string(h));
  Tensor w = Tensor::empty({3 * d, d}, dtype);
  init::xavier_uniform_(w);
  in_proj_weight = register_parameter("in_proj_weight", w);
  if (bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * d}, dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(d, d, bias, dtype));
  if (bias) {
    Tensor b = out_proj->bias;
    init::zeros_(b);
  }
}

Tensor MultiheadAttention::causal_mask(int64_t T, int64_t S, DType dtype) {
  Tensor m = zeros({T, S}, dtype);
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = t + (S - T) + 1; s < S; ++s) {
      if (s < 0) continue;
      if (dtype == DType::f32) m.data<float>()[t * S + s] = static_cast<float>(ninf);
      else m.data<double>()[t * S + s] = ninf;
    }
  return m;
}

Tensor MultiheadAttention::forward(const Tensor& x) { return forward(x, x, x, Tensor()); }

Tensor MultiheadAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask) {
  auto check = [&](const Tensor& t, const char* what) {
    if (!t.defined() || t.dim() != 3 || t.size(2) != embed_dim)
      throw ShapeError(std::string("MultiheadAttention: expected ") + what + " [B, T, " + std::to_string(embed_dim) +
                       "], got " + (t.defined() ? shape_str(t.shape()) : std::string("undefined")));
  };
  check(q, "query");
  check(k, "key");
  check(v, "value");
  const int64_t B = q.size(0), T = q.size(1), S = k.size(1), D = embed_dim, H = num_heads, hd = head_dim;
  if (k.size(0) != B || v.size(0) != B || v.size(1) != S)
    throw ShapeError("MultiheadAttention: query " + shape_str(q.shape()) + ", key " + shape_str(k.shape()) + " and value " +
                     shape_str(v.shape()) + " disagree in batch or key length");

  // One projection per role from slices of the packed weight (one matmul when q, k, v are the same
  // tensor would save two launches; three keeps the code one path for self and cross attention).
  auto project = [&](const Tensor& x, int64_t role) {
    Tensor w = slice(in_proj_weight, 0, role * D, (role + 1) * D);
    Tensor y = matmul(x, transpose(w, 0, 1));
    if (in_proj_bias.defined()) y = add(y, slice(in_proj_bias, 0, role * D, (role + 1) * D));
    return y;
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const Tensor pq = project(q, 0), pk = project(k, 1);
  Tensor vh = permute(reshape(project(v, 2), {B, S, H, hd}), {0, 2, 1, 3});  // [B, H, S, hd]
  Tensor ctx;                                                                 // [B, H, T, hd]
  if (!attn_mask.defined()) {
    // The fused kernel (autodiff/ops/attention.h): no [B, H, T, S] score matrix, forward or backward.
    Tensor qh = permute(reshape(pq, {B, T, H, hd}), {0, 2, 1, 3});
    Tensor kh = permute(reshape(pk, {B, S, H, hd}), {0, 2, 1, 3});
    ctx = scaled_dot_product_attention(qh, kh, vh, causal, scale);
  } else {
    if (!is_floating(attn_mask.dtype()))
      throw DTypeError(std::string("MultiheadAttention: attn_mask must be an additive floating mask, got ") +
                       dtype_name(attn_mask.dtype()));
    // An arbitrary additive mask: the op chain. Scaling q before the product (not the scores after)
    // touches T*D instead of T*S values.
    Tensor qh = permute(reshape(mul(pq, scale), {B, T, H, hd}), {0, 2, 1, 3});
    Tensor kt = permute(reshape(pk, {B, S, H, hd}), {0, 2, 3, 1});  // [B, H, hd, S]
    Tensor scores = matmul(qh, kt);                                 // [B, H, T, S]
    if (causal) scores = add(scores, causal_mask(T, S, scores.dtype()));
    scores = add(scores, attn_mask.dtype() == scores.dtype() ? attn_mask : attn_mask.to(scores.dtype()));
    ctx = matmul(softmax(scores, -1), vh);
  }
  Tensor out = reshape(permute(ctx, {0, 2, 1, 3}), {B, T, D});
  return out_proj->forward(out);
}

}  // namespace pianograd::nn
