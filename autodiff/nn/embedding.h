// A lookup table of vectors indexed by integer ids (torch.nn.Embedding).
#pragma once
#include "autodiff/nn/module.h"

namespace pianograd::nn {

class Embedding : public Module {
 public:
  // weight ~ N(0, 1) (PyTorch's default).
  Embedding(int64_t num_embeddings, int64_t embedding_dim, DType dtype = DType::f32);
  Tensor forward(const Tensor& indices) override;  // i64/i32 [...] -> [..., D]
  std::string type_name() const override { return "Embedding"; }

  const int64_t num_embeddings, embedding_dim;
  Tensor weight;  // [V, D]
};

}  // namespace pianograd::nn
