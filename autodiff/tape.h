// Define-by-run tape. An op's output carries a Node naming the op, its inputs and its VJP; backward()
// walks the nodes in reverse topological order (DESIGN.md §3).
//
// Rule for VJP closures: capture inputs/outputs as `x.detach()`, detail::SavedData(x) (storage only)
// or raw values, never the recorded output itself — that would make output -> node -> closure ->
// output a reference cycle.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "autodiff/allocator.h"
#include "autodiff/tensor.h"

namespace pianograd {

using Grads = std::vector<Tensor>;  // one entry per input; undefined = no gradient
using VJP = std::function<Grads(const Tensor& grad_output)>;

struct Node {
  const char* op = "";
  std::vector<Tensor> inputs;
  std::vector<uint64_t> stamps;  // per input at record time (detail::stamp): checked before the VJP runs
  std::vector<uint8_t> hashed;   // per input: its stamp hashes the bytes (external memory at record time)
  VJP vjp;  // reset after backward unless retain_graph (record() keeps its closure in ClosureNode instead)
  virtual ~Node();  // iterative: dropping a 10^6-op chain must not recurse once per node

  // The VJP, whichever way it is stored; has_vjp() is false once released after backward.
  virtual bool has_vjp() const { return static_cast<bool>(vjp); }
  virtual Grads apply(const Tensor& grad_output) { return vjp(grad_output); }
  virtual void release_vjp() { vjp = nullptr; }

  // backward()'s bookkeeping, valid only during one pass (replaces hash maps keyed by Node*).
  Tensor pending_grad;         // sum of the gradients reaching this node so far
  bool pending_owned = false;  // pending_grad is a fresh buffer of this pass: safe to add into in place
  uint64_t visit_mark = 0;     // id of the last pass that visited the node
};

namespace detail {
// record()'s node: the closure lives inline (one pooled allocation for node, closure and control
// block, instead of separate ones for the node and std::function's heap copy of the closure).
template <class F>
struct ClosureNode final : Node {
  std::optional<F> fn;
  explicit ClosureNode(F&& f) : fn(std::move(f)) {}
  explicit ClosureNode(const F& f) : fn(f) {}
  bool has_vjp() const override { return fn.has_value(); }
  Grads apply(const Tensor& grad_output) override { return (*fn)(grad_output); }
  void release_vjp() override { fn.reset(); }
};
}  // namespace detail

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
// A tensor's write stamp: its storage's in-place version, and with `bytes` also a hash of its memory
// (for external memory, which NumPy can write without note_inplace_write). 0 for an undefined tensor.
// Whether the bytes count is fixed when the op is recorded, so exporting a tensor to NumPy later does
// not by itself change its stamp (a write through that later view goes unnoticed: tape.h's limit).
uint64_t stamp(const Tensor& t, bool bytes);
void stamp_inputs(Node& node);
void attach(Tensor& out, const char* op, std::vector<Tensor> inputs, VJP vjp);
void attach_node(Tensor& out, std::shared_ptr<Node> node);
}  // namespace detail

namespace detail {
// What a VJP needs of a tensor whose values it only reads: the storage (kept alive) and the element
// offset. Cheaper than a detach() copy (no TensorImpl, no shape copy) and, like it, never refers
// to a Node, so capturing one of the recorded output is no reference cycle.
struct SavedData {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  explicit SavedData(const Tensor& t) : storage(t.impl()->storage), offset(t.impl()->offset) {}
  template <class T> const T* data() const { return static_cast<const T*>(storage->data) + offset; }
};
}  // namespace detail

// Records `out` as produced by `op` from `inputs`. The closure is only built when something needs a
// gradient, so ops on plain tensors pay one branch.
template <class F>
inline void record(Tensor& out, const char* op, std::initializer_list<Tensor> inputs, F&& make_vjp) {
  if (!grad_enabled() || !detail::any_requires_grad(inputs)) return;
  using C = std::decay_t<F>;
  auto node = std::allocate_shared<detail::ClosureNode<C>>(detail::PoolAllocator<detail::ClosureNode<C>>{},
                                                          std::forward<F>(make_vjp));
  node->op = op;
  node->inputs.assign(inputs.begin(), inputs.end());
  detail::stamp_inputs(*node);
  detail::attach_node(out, std::move(node));
}
// Same, for ops with a variable number of inputs (concat, stack).
void record_many(Tensor& out, const char* op, const std::vector<Tensor>& inputs, VJP vjp);

// Reduces a broadcast gradient back to `shape` (sums over broadcast dims) — used by every
// broadcasting op's VJP.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace pianograd
