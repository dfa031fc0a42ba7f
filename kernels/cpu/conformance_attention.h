// The fused attention's conformance check (kernels/cpu/conformance_attention.cpp), taking the kernels
// under test as parameters, in the manner of conformance_checks.h: the suite passes the dispatched
// entry points, the emulated-width test (tests/kernels/emulated_attention_test.cpp) the driver over
// an ISA body instantiated on emulated 4/8/16-lane batches.
#pragma once
#include <functional>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/conformance.h"

namespace pianograd::kernels::cpu::conformance {

// What the case's size sweeps (each reaching the tails of the lanes, of the 2-batch register blocks
// and, with the large sizes, of the 64-key tiles and 64-row query blocks):
//   square_causal: tq = tk = size, 3 heads, d = 19;
//   decode_causal: tk = size, tq = (size + 2) / 3 (1 for the first sizes: KV-cache decoding), 1 head
//                  (so the threaded backward splits the head's key tiles into groups);
//   full:          tk = size, tq = 7 (more queries than keys for the first sizes), no mask, 2 heads;
//   head_dim:      d = size, tq = 9, tk = 70 (two key tiles), causal, 2 heads.
enum class AttnSweep { square_causal, decode_causal, full, head_dim };

struct AttnGeometry {
  long heads, tq, tk, d;
  bool causal;
};
AttnGeometry attn_geometry(AttnSweep sweep, long size);

template <class T> using AttnForwardFn = std::function<void(const AttentionForward<T>&)>;
template <class T> using AttnBackwardFn = std::function<void(const AttentionBackward<T>&)>;
// o, lse, dq, dk, dv against ref:: (the backward is fed the reference forward's o and lse).
template <class T>
Outcome check_attention(AttnSweep sweep, long size, const AttnForwardFn<T>& fwd, const AttnBackwardFn<T>& bwd);

}  // namespace pianograd::kernels::cpu::conformance
