// Multi-head scaled dot-product attention (Vaswani et al. 2017), batch-first [B, T, D]. Without an
// attn_mask the heads go through the fused scaled_dot_product_attention op (autodiff/ops/attention.h:
// FlashAttention-style, no [B, H, T, S] score matrix); with one, through matmul / add / softmax. Parameter names follow
// torch.nn.MultiheadAttention (in_proj_weight, in_proj_bias, out_proj.*) so weights can be exchanged.
#pragma once
#include <memory>

#include "autodiff/nn/linear.h"

namespace pianograd::nn {

class MultiheadAttention : public Module {
 public:
  // causal: position t attends only to positions <= t (an additive -inf mask above the diagonal).
  // Init as PyTorch: in_proj_weight xavier_uniform, biases 0, out_proj.weight Linear's default.
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, bool bias = true, bool causal = false,
                     DType dtype = DType::f32);

  // Self-attention: forward(x, x, x).
  Tensor forward(const Tensor& x) override;
  // query [B, T, D], key/value [B, S, D] -> [B, T, D]. attn_mask (optional) is added to the scores:
  // a floating tensor broadcastable to [B, H, T, S] (0 = keep, -inf = drop), combined with `causal`.
  // Without attn_mask, a causal module needs T <= S (ShapeError otherwise: the first queries would see
  // no key).
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& attn_mask);
  std::string type_name() const override { return "MultiheadAttention"; }

  // The additive causal mask [T, S]: 0 where s <= t + (S - T), -inf elsewhere (aligned to the end,
  // so a query block attending to a longer key history still sees every past key).
  static Tensor causal_mask(int64_t T, int64_t S, DType dtype = DType::f32);

  const int64_t embed_dim, num_heads, head_dim;
  const bool causal;
  Tensor in_proj_weight;  // [3D, D]: rows [0, D) project queries, [D, 2D) keys, [2D, 3D) values
  Tensor in_proj_bias;    // [3D] or undefined
  std::shared_ptr<Linear> out_proj;
};

}  // namespace pianograd::nn
