#include "autodiff/tape.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <cstring>
#include <string>

#include "autodiff/broadcast.h"
#include "autodiff/grad_hooks.h"
#include "autodiff/ops/cuda_ops.h"
#include "autodiff/ops/elementwise.h"
#include "kernels/cpu/elementwise.h"

namespace pianograd {
namespace {
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_pass_counter{0};

// Grad-ready hooks (grad_hooks.h), by leaf. The weak pointer tells a live leaf from a later tensor that
// happens to reuse a dead one's address. backward() looks here only while some hook exists.
struct ReadyHook {
  std::weak_ptr<TensorImpl> leaf;
  std::shared_ptr<std::function<void(const Tensor&)>> fn;
};
std::mutex g_hooks_mutex;
std::unordered_map<const TensorImpl*, ReadyHook> g_hooks;
std::atomic<int64_t> g_ready_hooks{0};

using HookFn = std::shared_ptr<std::function<void(const Tensor&)>>;

// A hooked leaf of this pass: the position in `order` of the last node (in the reverse walk: the
// smallest index) that consumes it, the leaf, and its hook.
struct ReadyPoint {
  size_t pos;
  const Tensor* leaf;
  HookFn fn;
};

// The hooked leaves of this pass in ascending position, so the walk fires them from the back. One
// lookup per distinct leaf, under one lock; hooks run later, outside it.
std::vector<ReadyPoint> ready_points(const std::vector<Node*>& order) {
  std::vector<ReadyPoint> pts;
  std::unordered_set<const TensorImpl*> seen;
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  for (size_t i = 0; i < order.size(); ++i)
    for (const Tensor& in : order[i]->inputs) {
      const TensorImpl* ii = in.defined() ? in.impl() : nullptr;
      if (!ii || ii->grad_fn || !ii->requires_grad || !seen.insert(ii).second) continue;
      auto it = g_hooks.find(ii);
      if (it == g_hooks.end()) continue;
      if (it->second.leaf.lock().get() != ii) {  // the hooked leaf died; this is another tensor
        g_hooks.erase(it);
        g_ready_hooks.fetch_sub(1);
        continue;
      }
      pts.push_back({i, &in, it->second.fn});
    }
  return pts;
}

// Out-of-place so that a gradient aliased by two inputs (add's VJP returns gy twice) is never mutated.
Tensor accumulate(const Tensor& acc, const Tensor& g) { return acc.defined() ? add(acc, g) : g; }

// acc += g. An empty slot takes g itself (no copy); the first real sum allocates a fresh buffer that
// only this pass knows (`owned`), and later sums add into it in place — a leaf hit by N ops costs one
// allocation instead of N. Borrowed gradients are never written (they may alias other slots).
void accumulate_into(Tensor& acc, bool& owned, const Tensor& g) {
  if (!acc.defined()) {
    acc = g;
    owned = false;
    return;
  }
  if (owned && acc.dtype() == g.dtype() && acc.shape() == g.shape() && acc.device().type == DeviceType::CPU &&
      g.device().type == DeviceType::CPU) {
    const auto n = static_cast<long>(acc.numel());
    if (acc.dtype() == DType::f32) {
      kernels::cpu::binary<float>(kernels::BinaryOp::add, acc.data<float>(), 1, g.data<float>(), 1, acc.data<float>(), n);
      return;
    }
    if (acc.dtype() == DType::f64) {
      kernels::cpu::binary<double>(kernels::BinaryOp::add, acc.data<double>(), 1, g.data<double>(), 1,
                                   acc.data<double>(), n);
      return;
    }
  }
  acc = add(acc, g);
  owned = true;
}

// Nodes in post-order (producers before consumers), iteratively: chains of 10^5 ops must not
// overflow the stack. Visited nodes carry this pass's mark instead of living in a hash set.
std::vector<Node*> topo_order(Node* root, uint64_t mark) {
  std::vector<Node*> order;
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  root->visit_mark = mark;
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      Node* child = in.defined() ? in.impl()->grad_fn.get() : nullptr;
      if (child && child->visit_mark != mark) {
        child->visit_mark = mark;
        stack.emplace_back(child, 0);
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

// Drops the per-node gradients left behind when a VJP throws mid-pass.
struct PendingGuard {
  const std::vector<Node*>& order;
  ~PendingGuard() {
    for (Node* n : order) {
      n->pending_grad = Tensor();
      n->pending_owned = false;
    }
  }
};
}  // namespace

// Destroying the last handle of a long chain would otherwise recurse tensor -> node -> input tensor ->
// node ... once per op (a segfault at ~10^5 ops on a 1 MiB thread stack). Inputs whose tensor we
// hold the last handle of give up their producer node to an explicit stack instead.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending;
  auto steal = [&pending](std::vector<Tensor>& ins) {
    for (Tensor& t : ins)
      if (t.defined() && t.impl_ptr().use_count() == 1 && t.impl()->grad_fn)
        pending.push_back(std::move(t.impl()->grad_fn));
  };
  steal(inputs);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    if (n.use_count() == 1) steal(n->inputs);  // n dies here, its inputs no longer own producers
  }
}

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

namespace detail {
bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  for (const auto& t : inputs)
    if (t.defined() && t.impl()->requires_grad) return true;
  return false;
}

uint64_t stamp(const Tensor& t, bool bytes) {
  if (!t.defined()) return 0;
  const Storage& s = *t.impl()->storage;
  uint64_t h = s.version * 0x9E3779B97F4A7C15ull + 1;
  if (bytes && s.device.type == DeviceType::CPU && s.data) {
    // 8 bytes at a time, multiply-xorshift (fast, not cryptographic: it only has to notice a write)
    const auto* b = static_cast<const unsigned char*>(s.data);
    size_t i = 0;
    for (; i + 8 <= s.nbytes; i += 8) {
      uint64_t w;
      std::memcpy(&w, b + i, 8);
      h = (h ^ w) * 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    for (; i < s.nbytes; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  }
  return h;
}

void stamp_inputs(Node& node) {
  node.stamps.resize(node.inputs.size());
  node.hashed.resize(node.inputs.size());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Tensor& t = node.inputs[i];
    node.hashed[i] = t.defined() && t.impl()->storage->external;
    node.stamps[i] = stamp(t, node.hashed[i] != 0);
  }
}

void attach(Tensor& out, const char* op, std::vector<Tensor> inputs, VJP vjp) {
  auto node = std::allocate_shared<Node>(PoolAllocator<Node>{});
  node->op = op;
  node->inputs = std::move(inputs);
  stamp_inputs(*node);
  node->vjp = std::move(vjp);
  attach_node(out, std::move(node));
}

void attach_node(Tensor& out, std::shared_ptr<Node> node) {
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}
}  // namespace detail

void record_many(Tensor& out, const char* op, const std::vector<Tensor>& inputs, VJP vjp) {
  if (!grad_enabled()) return;
  bool any = false;
  for (const auto& t : inputs) any = any || (t.defined() && t.impl()->requires_grad);
  if (any) detail::attach(out, op, inputs, std::move(vjp));
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  check_defined("backward");
  if (!impl_->requires_grad)
    throw GraphError("backward: tensor of shape " + shape_str(shape()) + " does not require grad");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    if (numel() != 1)
      throw GraphError("backward: grad_output is required for a non-scalar tensor of shape " + shape_str(shape()));
    seed = ones_like(*this);
  } else if (seed.shape() != shape()) {
    throw ShapeError("backward: grad_output shape " + shape_str(seed.shape()) + " differs from tensor shape " +
                     shape_str(shape()));
  } else if (seed.dtype() != dtype()) {
    seed = seed.to(dtype());
  }
  NoGrad no_grad;
  if (!impl_->grad_fn) {
    impl_->grad = accumulate(grad(), seed).impl_ptr();
    return;
  }
  Node* root = impl_->grad_fn.get();
  const uint64_t pass = ++g_pass_counter;
  std::vector<Node*> order = topo_order(root, pass);
  PendingGuard guard{order};
  // Every input still as its op saw it, checked before any VJP runs (a refused graph stays usable).
  for (const Node* node : order)
    for (size_t i = 0; i < node->stamps.size(); ++i)
      if (detail::stamp(node->inputs[i], node->hashed[i] != 0) != node->stamps[i])
        throw GraphError(std::string("backward: input ") + std::to_string(i) + " of op '" + node->op +
                         "' (shape " + shape_str(node->inputs[i].shape()) + ") was modified in place after the op used "
                         "it (an optimizer step, an assignment, or a write through a NumPy view), so its gradient "
                         "would be computed from the new values; clone() it before changing it");
  root->pending_grad = seed;
  root->pending_owned = false;
  std::vector<ReadyPoint> ready;
  if (g_ready_hooks.load(std::memory_order_relaxed) > 0) ready = ready_points(order);
  // Fires the hooks of every leaf whose last consumer comes after position `pos` in the reverse walk.
  auto fire_after = [&](size_t pos) {
    while (!ready.empty() && ready.back().pos >= pos) {
      const ReadyPoint pt = std::move(ready.back());
      ready.pop_back();
      (*pt.fn)(*pt.leaf);
    }
  };
  for (size_t pos = order.size(); pos-- > 0;) {
    fire_after(pos + 1);
    Node* node = order[pos];
    if (!node->pending_grad.defined()) continue;  // no gradient reached this node
    Tensor gy = std::move(node->pending_grad);
    node->pending_grad = Tensor();
    node->pending_owned = false;
    if (!node->has_vjp())
      throw GraphError(std::string("backward: the graph through op '") + node->op +
                       "' was already freed; pass retain_graph=true to the first backward()");
    Grads gs = node->apply(gy);
    if (gs.size() != node->inputs.size())
      throw Error(std::string("backward: op '") + node->op + "' returned " + std::to_string(gs.size()) +
                  " gradients for " + std::to_string(node->inputs.size()) + " inputs");
    for (size_t i = 0; i < gs.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined() || !in.impl()->requires_grad || !gs[i].defined()) continue;
      if (gs[i].shape() != in.shape())
        throw Error(std::string("backward: op '") + node->op + "' gave a gradient of shape " +
                    shape_str(gs[i].shape()) + " for input " + std::to_string(i) + " of shape " +
                    shape_str(in.shape()));
      Tensor gi = gs[i].dtype() == in.dtype() ? std::move(gs[i]) : gs[i].to(in.dtype());
      TensorImpl* ii = in.impl();
      if (Node* producer = ii->grad_fn.get()) {
        accumulate_into(producer->pending_grad, producer->pending_owned, gi);
      } else {
        // A leaf's .grad is ours to update in place only if this pass allocated it.
        Tensor acc = ii->grad ? Tensor(ii->grad) : Tensor();
        bool owned = ii->grad_pass == pass;
        accumulate_into(acc, owned, gi);
        ii->grad = acc.impl_ptr();
        ii->grad_pass = owned ? pass : 0;
      }
    }
    if (!retain_graph) node->release_vjp();
  }
  fire_after(0);
}

void set_grad_ready_hook(const Tensor& leaf, std::function<void(const Tensor&)> hook) {
  if (!leaf.defined()) throw GraphError("set_grad_ready_hook: the tensor is undefined");
  if (!leaf.is_leaf())
    throw GraphError("set_grad_ready_hook: tensor of shape " + shape_str(leaf.shape()) +
                     " is not a leaf (it was computed by op '" + leaf.grad_fn()->op + "')");
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  auto it = g_hooks.find(leaf.impl());
  if (it != g_hooks.end()) {
    g_hooks.erase(it);
    g_ready_hooks.fetch_sub(1);
  }
  if (!hook) return;
  g_hooks.emplace(leaf.impl(), ReadyHook{leaf.impl_ptr(), std::make_shared<std::function<void(const Tensor&)>>(std::move(hook))});
  g_ready_hooks.fetch_add(1);
}

Strides broadcast_strides(const Shape& in, const Shape& out) {
  Strides st(out.size(), 0);
  int64_t stride = 1;
  const size_t lead = out.size() - in.size();
  for (size_t i = in.size(); i-- > 0;) {
    st[lead + i] = (in[i] == 1 && out[lead + i] != 1) ? 0 : stride;
    stride *= in[i];
  }
  return st;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  if (grad.device().type != DeviceType::CPU) return detail::cuda_sum_to(grad, shape);  // issue 6
  const Shape& gs = grad.shape();
  if (shape.size() > gs.size())
    throw ShapeError("sum_to: cannot reduce shape " + shape_str(gs) + " to " + shape_str(shape));
  Tensor out = zeros(shape, grad.dtype());
  const Strides dst[1] = {broadcast_strides(shape, gs)};
  auto reduce = [&](auto tag) {
    using T = decltype(tag);
    const T* g = grad.data<T>();
    T* o = out.data<T>();
    for_each_run<1>(gs, dst, [&](int64_t goff, const int64_t* off, const int64_t* inner, int64_t len) {
      T* d = o + off[0];
      const T* s = g + goff;
      if (inner[0] == 0) {
        T acc = 0;
        for (int64_t i = 0; i < len; ++i) acc += s[i];
        *d += acc;
      } else {
        for (int64_t i = 0; i < len; ++i) d[i] += s[i];
      }
    });
    return 0;
  };
  if (grad.dtype() == DType::f32) reduce(float{});
  else if (grad.dtype() == DType::f64) reduce(double{});
  else throw DTypeError(std::string("sum_to: expected a floating dtype, got ") + dtype_name(grad.dtype()));
  return out;
}

}  // namespace pianograd
