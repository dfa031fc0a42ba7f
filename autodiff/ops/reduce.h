// Reductions over axes (negative axes count from the end; an empty axes list means all axes).
#pragma once
#include <utility>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

using Axes = std::vector<int64_t>;

Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor var(const Tensor& x, const Axes& axes = {}, bool keepdim = false, int64_t correction = 0);
// Values and i64 indices along one axis; the gradient goes to the (first) arg-extremum.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t axis, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor max(const Tensor& x);  // over everything
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor logsumexp(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);

}  // namespace pianograd
