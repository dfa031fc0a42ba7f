// Fused optimizer updates over raw parameter/gradient/state arrays. An optimizer step is a pure
// streaming loop (read p, g, m, v; write p, m, v), so fusing it into one pass is worth ~5x over
// composing it from elementwise ops, which would each sweep memory again (bench/bench_optim.cpp).
#pragma once
#include <cstdint>

namespace pianograd::kernels::cpu {

// Adam/AdamW hyper-parameters for one step, with the bias corrections already folded in by the
// caller (they depend only on the step count, so they are computed once per step in double).
struct AdamStep {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;        // AdamW (Loshchilov & Hutter 2019): decay the weights, not the gradient
  double bias_correction1 = 1.0;  // 1 - beta1^t
  double bias_correction2 = 1.0;  // 1 - beta2^t
};

// PyTorch's Adam/AdamW update, per element (torch.optim.Adam docs, "algorithm"):
//   AdamW: p <- p (1 - lr wd)            Adam: g <- g + wd p
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
// Dispatched by ISA, threaded with OpenMP above kParallelGrain.
template <class T> void adam_update(T* p, const T* g, T* m, T* v, long n, const AdamStep& s);

// SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD):
//   g <- g + wd p;  buf <- first ? g : mu buf + (1 - dampening) g;  d <- nesterov ? g + mu buf : buf
//   p <- p - lr d.  With mu == 0, buf may be null and d = g.
struct SgdStep {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool first = false;  // the momentum buffer is uninitialised: it becomes g (PyTorch's convention)
};
template <class T> void sgd_update(T* p, const T* g, T* buf, long n, const SgdStep& s);

// Sum of squares accumulated in double (the global-norm clip must not lose small gradients to
// float rounding when summing millions of terms), and in-place scaling.
template <class T> double sum_squares(const T* x, long n);
template <class T> void scale_inplace(T* x, long n, double factor);

// The scalar references used by tests and benchmarks.
namespace ref {
template <class T> void adam_update(T* p, const T* g, T* m, T* v, long n, const AdamStep& s);
}  // namespace ref

// One namespace per ISA translation unit (optim_<isa>.cpp), single-threaded.
#define PG_OPTIM_ISA_DECL(ns) \
  namespace ns {              \
  template <class T> void adam_update(T* p, const T* g, T* m, T* v, long n, const AdamStep& s); \
  }
PG_OPTIM_ISA_DECL(sse2)
PG_OPTIM_ISA_DECL(avx2)
PG_OPTIM_ISA_DECL(avx512)
#undef PG_OPTIM_ISA_DECL

}  // namespace pianograd::kernels::cpu
