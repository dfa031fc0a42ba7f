// Baseline-compiled dispatcher of the fused attention (kernels/cpu/attention.h): picks the active ISA's
// bodies (attention_<isa>.cpp), sizes one scratch buffer per thread, and spreads the work items over
// OpenMP threads with a dynamic schedule (causal items differ in cost; each item's arithmetic is the
// same whichever thread runs it, so results depend only on the thread count, through the backward's
// key-tile groups). The scalar ISA runs the references, split over heads.
#include "kernels/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

PG_CPU_KERNEL(attention_forward);
PG_CPU_KERNEL(attention_backward);

namespace {

// Multiply-adds of the score and value products: the size that decides whether threads pay off.
long attention_work(long heads, long tq, long tk, long d) { return heads * tq * tk * d; }

bool single_threaded(long items, long work) {
  return items < 2 || work < 4 * kParallelGrain || omp_get_max_threads() == 1;
}

// body(lo, hi, thread) over items [0, items): one call when single-threaded, else dynamic chunks of one.
template <class F>
void for_items(long items, long work, F&& body) {
  if (single_threaded(items, work)) {
    body(0L, items, 0);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (long it = 0; it < items; ++it) body(it, it + 1, omp_get_thread_num());
}

long thread_slots(long items, long work) { return single_threaded(items, work) ? 1 : omp_get_max_threads(); }

// The scalar ISA: the references on sub-problems of whole heads.
template <class T>
void scalar_forward(const AttentionForward<T>& a) {
  for_items(a.heads, attention_work(a.heads, a.tq, a.tk, a.d), [&](long lo, long hi, int) {
    AttentionForward<T> s = a;
    s.q += lo * a.tq * a.d;
    s.k += lo * a.tk * a.d;
    s.v += lo * a.tk * a.d;
    s.o += lo * a.tq * a.d;
    s.lse += lo * a.tq;
    s.heads = hi - lo;
    ref::attention_forward(s);
  });
}

template <class T>
void scalar_backward(const AttentionBackward<T>& a) {
  for_items(a.heads, attention_work(a.heads, a.tq, a.tk, a.d), [&](long lo, long hi, int) {
    const long qo = lo * a.tq * a.d, ko = lo * a.tk * a.d;
    AttentionBackward<T> s = a;
    s.q += qo;
    s.o += qo;
    s.dout += qo;
    s.dq += qo;
    s.lse += lo * a.tq;
    s.k += ko;
    s.v += ko;
    s.dk += ko;
    s.dv += ko;
    s.heads = hi - lo;
    ref::attention_backward(s);
  });
}

}  // namespace

template <class T>
void attention_forward_run(const AttentionForward<T>& a, AttentionForwardItems<T> body) {
  if (a.heads * a.tq == 0) return;
  const long items = attn_forward_items(a.heads, a.tq), work = attention_work(a.heads, a.tq, a.tk, a.d);
  const long per = attn_forward_scratch(a.d);
  std::vector<T> scratch(static_cast<size_t>(per * thread_slots(items, work)));
  for_items(items, work, [&](long lo, long hi, int t) { body(a, lo, hi, scratch.data() + t * per); });
}

template <class T>
void attention_backward_run(const AttentionBackward<T>& a, AttentionBackwardItems<T> body) {
  if (a.heads * a.tk == 0) return;
  const long d = a.d, dp = attn_round_up(d, kAttnDPad), work = attention_work(a.heads, a.tq, a.tk, a.d);
  // Fewer heads than threads: split each head's key tiles into groups (more dq partials to sum).
  const long threads = single_threaded(a.heads * attn_key_tiles(a.tk), work) ? 1 : omp_get_max_threads();
  const long groups = std::clamp((threads + a.heads - 1) / a.heads, 1L, attn_key_tiles(a.tk));
  const long items = a.heads * groups, per = attn_backward_scratch(a.tq, d);
  std::vector<T> scratch(static_cast<size_t>(per * thread_slots(items, work)));
  std::vector<T> partial(static_cast<size_t>(items * a.tq * dp), T(0));
  for_items(items, work, [&](long lo, long hi, int t) { body(a, groups, lo, hi, partial.data(), scratch.data() + t * per); });
  // dq = the sum of the head's group partials (row stride dp), in group order.
  for (long h = 0; h < a.heads; ++h)
    for (long i = 0; i < a.tq; ++i) {
      T* out = a.dq + (h * a.tq + i) * d;
      const T* p = partial.data() + (h * groups * a.tq + i) * dp;
      std::copy(p, p + d, out);
      for (long g = 1; g < groups; ++g)
        for (long dd = 0; dd < d; ++dd) out[dd] += p[g * a.tq * dp + dd];
    }
}

namespace {
#define PG_PICK(fn)                                     \
  switch (active_isa()) {                               \
    case Isa::avx512: return &avx512::fn<T>;            \
    case Isa::avx2: return &avx2::fn<T>;                \
    case Isa::sse2: return &sse2::fn<T>;                \
    case Isa::scalar: break;                            \
  }                                                     \
  return nullptr;
template <class T> AttentionForwardItems<T> pick_forward() { PG_PICK(attention_forward_items) }
template <class T> AttentionBackwardItems<T> pick_backward() { PG_PICK(attention_backward_items) }
#undef PG_PICK
}  // namespace

template <class T>
void attention_forward(const AttentionForward<T>& a) {
  if (const auto body = pick_forward<T>()) return attention_forward_run(a, body);
  scalar_forward(a);
}

template <class T>
void attention_backward(const AttentionBackward<T>& a) {
  if (const auto body = pick_backward<T>()) return attention_backward_run(a, body);
  scalar_backward(a);
}

#define PG_INST(T)                                                                                   \
  template void attention_forward<T>(const AttentionForward<T>&);                                    \
  template void attention_backward<T>(const AttentionBackward<T>&);                                  \
  template void attention_forward_run<T>(const AttentionForward<T>&, AttentionForwardItems<T>);      \
  template void attention_backward_run<T>(const AttentionBackward<T>&, AttentionBackwardItems<T>);
PG_INST(float)
PG_INST(double)
#undef PG_INST

}  // namespace pianograd::kernels::cpu
