#include "autodiff/nn/embedding.h"

#include "autodiff/nn/init.h"
#include "autodiff/ops.h"

namespace pianograd::nn {

Embedding::Embedding(int64_t num, int64_t dim, DType dtype) : num_embeddings(num), embedding_dim(dim) {
  if (num <= 0 || dim <= 0)
    throw ValueError("Embedding: num_embeddings and embedding_dim must be positive, got " + std::to_string(num) + ", " +
                     std::to_string(dim));
  Tensor w = Tensor::empty({num, dim}, dtype);
  init::normal_(w, 0.0, 1.0);
  weight = register_parameter("weight", w);
}

// Index dtype and range are checked by the embedding op (DTypeError / IndexError naming it).
Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

}  // namespace pianograd::nn
