// Define-by-run tape. An op's output carries a Node naming the op, its inputs and its VJP; backward()
// walks the nodes in reverse topological order (DESIGN.md §3).
//
// Rule for VJP closures: capture inputs/outputs as `x.detach()` (or raw values), never the
// recorded output itself — that would make output -> node -> closure -> output a reference cycle.
#pragma once
#include <functional>
#include <utility>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd {

using Grads = std::vector<Tensor>;  // one entry per input; undefined = no gradient
using VJP = std::function<Grads(const Tensor& grad_output)>;

struct Node {
  const char* op = "";
  std::vector<Tensor> inputs;
  VJP vjp;  // reset after backward unless retain_graph
  ~Node();  // iterative: dropping a 10^6-op chain must not recurse once per node
};

bool grad_enabled();
void set_grad_enabled(bool on);

// Scoped guard that turns recording off (the backward pass runs under one too).
class NoGrad {
 public:
  NoGrad() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGrad() { set_grad_enabled(prev_); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

namespace detail {
bool any_requires_grad(std::initializer_list<Tensor> inputs);
void attach(Tensor& out, const char* op, std::vector<Tensor> inputs, VJP vjp);
}  // namespace detail

// Records `out` as produced by `op` from `inputs`. The closure is only built when something needs a
// gradient, so ops on plain tensors pay one branch.
template <class F>
inline void record(Tensor& out, const char* op, std::initializer_list<Tensor> inputs, F&& make_vjp) {
  if (!grad_enabled() || !detail::any_requires_grad(inputs)) return;
  detail::attach(out, op, std::vector<Tensor>(inputs), VJP(std::forward<F>(make_vjp)));
}
// Same, for ops with a variable number of inputs (concat, stack).
void record_many(Tensor& out, const char* op, const std::vector<Tensor>& inputs, VJP vjp);

// Reduces a broadcast gradient back to `shape` (sums over broadcast dims) — used by every
// broadcasting op's VJP.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace pianograd
