// Shape and indexing ops. reshape shares storage; everything else materialises (DESIGN.md §3).
#pragma once
#include <utility>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);  // broadcast to shape (materialised)
Tensor concat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t stop, int64_t step = 1);
// pads[2*i], pads[2*i+1] = before/after for dim i counted from the LAST dim (PyTorch F.pad order).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);
// out[i][j] = x[i][index[i][j]] along dim (torch.gather); index is i64 of x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// out = x; out[index[i][j]] += src[i][j] along dim (torch.scatter_add).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index 1-D i64
Tensor embedding(const Tensor& weight, const Tensor& indices);          // weight [V,D], indices i64 any shape

}  // namespace pianograd
