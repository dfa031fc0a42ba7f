// Fused scaled dot-product attention over raw buffers (the op: autodiff/ops/attention.h), forward and
// backward, FlashAttention-2 style (Dao 2023; the math in kernels/common/attention_math.h): the forward
// walks the keys tile by tile with an online softmax and saves the per-row logsumexp; the backward
// recomputes the probabilities tile by tile from q, k and that logsumexp. Neither ever holds a
// Tq x Tk matrix: the working set is a tile of kAttnKeyTile keys against a few query rows.
//
// Layout: heads = the product of the leading dims; q, o, dout, dq [heads, tq, d]; k, v, dk, dv
// [heads, tk, d]; lse [heads, tq]; all contiguous. Causal masking is aligned to the end (query i sees
// keys j <= i + tk - tq; the caller guarantees tq <= tk then); tk >= 1, d >= 1.
#pragma once

namespace pianograd::kernels::cpu {

template <class T>
struct AttentionForward {
  const T* q;
  const T* k;
  const T* v;
  T* o;
  T* lse;
  long heads, tq, tk, d;
  bool causal;
  T scale;
};

template <class T>
struct AttentionBackward {
  const T* q;
  const T* k;
  const T* v;
  const T* o;    // the forward's output
  const T* lse;  // the forward's logsumexp
  const T* dout;
  T* dq;
  T* dk;
  T* dv;
  long heads, tq, tk, d;
  bool causal;
  T scale;
};

// Dispatched by active_isa(), threaded with OpenMP (forward over heads x blocks of query rows, backward
// over heads x groups of key tiles).
template <class T> void attention_forward(const AttentionForward<T>& a);
template <class T> void attention_backward(const AttentionBackward<T>& a);

// Scalar references: the softmax materialised one query row at a time (a row of tk scores, never the
// whole matrix), in the order of the textbook formulas; single-threaded.
namespace ref {
template <class T> void attention_forward(const AttentionForward<T>& a);
template <class T> void attention_backward(const AttentionBackward<T>& a);
}  // namespace ref

// ---- the tiling shared by the dispatcher and the SIMD bodies ----
// Keys per tile: a multiple of 4 batches of every lane width up to 16 (AVX-512 floats).
inline constexpr long kAttnKeyTile = 64;
// Query rows per forward work item (its state: m, l and a [rows, d] accumulator).
inline constexpr long kAttnQueryBlock = 64;
// Query rows computed together against a key tile (register blocking).
inline constexpr long kAttnRows = 4;
// Head dims are padded to a multiple of this in the packed tiles (every lane width divides it).
inline constexpr long kAttnDPad = 16;

constexpr long attn_round_up(long n, long m) { return (n + m - 1) / m * m; }

// Work items: the forward's are (head, block of kAttnQueryBlock query rows); the backward's are (head,
// group of key tiles), `groups` per head, each accumulating its dq into its own [tq, dpad] slice of a
// partial buffer that the driver sums.
constexpr long attn_forward_items(long heads, long tq) { return heads * ((tq + kAttnQueryBlock - 1) / kAttnQueryBlock); }
constexpr long attn_key_tiles(long tk) { return (tk + kAttnKeyTile - 1) / kAttnKeyTile; }
// Scratch (elements of T) one thread's items need.
constexpr long attn_forward_scratch(long d) {
  const long dp = attn_round_up(d, kAttnDPad);
  return d * kAttnKeyTile                  // scale * K^T tile [d][tile]
         + kAttnKeyTile * dp               // V tile [tile][dp]
         + kAttnQueryBlock * (dp + 2)      // accumulators, m, l
         + kAttnRows * kAttnKeyTile        // scores / probabilities
         + dp;                             // a zero row (query rows past tq)
}
constexpr long attn_backward_scratch(long tq, long d) {
  const long dp = attn_round_up(d, kAttnDPad);
  return 2 * d * kAttnKeyTile          // scale * K^T, V^T tiles [d][tile]
         + kAttnKeyTile * dp           // scale * K tile [tile][dp]
         + 2 * d * kAttnKeyTile        // dK^T, dV^T accumulators
         + 2 * kAttnRows * kAttnKeyTile  // scores / P, dP / dS
         + tq                          // D_i = <dout_i, out_i>
         + 2 * dp;                     // a zero row, a sink row (query rows past tq)
}

// One ISA's bodies: single-threaded, over work items [lo, hi). `scratch` holds the size above.
#define PG_ATTENTION_ISA_DECL(ns)                                                                         \
  namespace ns {                                                                                          \
  template <class T> void attention_forward_items(const AttentionForward<T>& a, long lo, long hi, T* scratch); \
  template <class T>                                                                                      \
  void attention_backward_items(const AttentionBackward<T>& a, long groups, long lo, long hi, T* dq_partial, \
                                T* scratch);                                                              \
  }
PG_ATTENTION_ISA_DECL(sse2)
PG_ATTENTION_ISA_DECL(avx2)
PG_ATTENTION_ISA_DECL(avx512)
#undef PG_ATTENTION_ISA_DECL

// The dispatcher's drivers with a given ISA body: they size the scratch, split the items over threads,
// and (backward) sum the dq partials. attention_forward/backward pass the active ISA's bodies; the
// emulated-width tests pass bodies instantiated over emulated batches.
template <class T>
using AttentionForwardItems = void (*)(const AttentionForward<T>&, long, long, T*);
template <class T>
using AttentionBackwardItems = void (*)(const AttentionBackward<T>&, long, long, long, T*, T*);
template <class T> void attention_forward_run(const AttentionForward<T>& a, AttentionForwardItems<T> body);
template <class T> void attention_backward_run(const AttentionBackward<T>& a, AttentionBackwardItems<T> body);

}  // namespace pianograd::kernels::cpu
