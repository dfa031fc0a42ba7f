// Conformance cases of the fused attention (kernels/cpu/attention.h): forward (o, logsumexp) and
// backward (dq, dk, dv) against ref::, causal and not, tq == tk, tq < tk and tq > tk (unmasked), over
// sizes that reach every lane tail of the keys and of the head dim (conformance_attention.h).
// q and k are drawn from [-3, 3], so scores spread over several units and the online softmax's
// running max moves from tile to tile (its rescaling is exercised, not just the first tile's).
//
// Bounds, in epsilons of each output's scale: a score carries the rounding of a d-term dot product
// (times |q||k| ~ 9 per term), exp turns that absolute error into a relative one of the
// probabilities, and the outputs sum tk of them; the fused kernels also fold the scale into k and
// accumulate in another order. So the bound grows with d and tk.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/conformance_attention.h"
#include "kernels/cpu/conformance_util.h"

namespace pianograd::kernels::cpu::conformance {

AttnGeometry attn_geometry(AttnSweep sweep, long size) {
  switch (sweep) {
    case AttnSweep::square_causal: return {3, size, size, 19, true};
    case AttnSweep::decode_causal: return {1, (size + 2) / 3, size, 19, true};
    case AttnSweep::full: return {2, 7, size, 19, false};
    case AttnSweep::head_dim: break;
  }
  return {2, 9, 70, size, true};
}

template <class T>
Outcome check_attention(AttnSweep sweep, long size, const AttnForwardFn<T>& fwd, const AttnBackwardFn<T>& bwd) {
  using namespace detail;
  const AttnGeometry g = attn_geometry(sweep, size);
  const long nq = g.heads * g.tq * g.d, nk = g.heads * g.tk * g.d, nl = g.heads * g.tq;
  const auto q = uniform<T>(nq, 101 + size, -3, 3), k = uniform<T>(nk, 103 + size, -3, 3);
  const auto v = uniform<T>(nk, 107 + size), dout = uniform<T>(nq, 109 + size);
  const T scale = static_cast<T>(1 / std::sqrt(static_cast<double>(g.d)));
  Guarded<T> o(nq), lse(nl), dq(nq), dk(nk), dv(nk);
  std::vector<T> o0(static_cast<size_t>(nq)), lse0(static_cast<size_t>(nl)), dq0(o0.size());
  std::vector<T> dk0(static_cast<size_t>(nk)), dv0(dk0.size());

  const AttentionForward<T> f{q.data(), k.data(), v.data(), o.data(), lse.data(), g.heads, g.tq, g.tk, g.d, g.causal, scale};
  AttentionForward<T> f0 = f;
  f0.o = o0.data();
  f0.lse = lse0.data();
  fwd(f);
  ref::attention_forward(f0);
  const AttentionBackward<T> b{q.data(), k.data(), v.data(), o0.data(), lse0.data(), dout.data(), dq.data(), dk.data(),
                               dv.data(), g.heads, g.tq, g.tk, g.d, g.causal, scale};
  AttentionBackward<T> b0 = b;
  b0.dq = dq0.data();
  b0.dk = dk0.data();
  b0.dv = dv0.data();
  bwd(b);
  ref::attention_backward(b0);

  const double bound = 24 + static_cast<double>(g.d + g.tk) / 4;
  Outcome out = ulps_of_scale(o.data(), o0.data(), nq, 1, bound, "o");
  out = worst(out, ulps_each(lse.data(), lse0.data(), nl, 1, bound, "lse"));
  out = worst(out, ulps_of_scale(dq.data(), dq0.data(), nq, 1, bound, "dq"));
  out = worst(out, ulps_of_scale(dk.data(), dk0.data(), nk, 1, bound, "dk"));
  out = worst(out, ulps_of_scale(dv.data(), dv0.data(), nk, 1, bound, "dv"));
  for (const auto* gd : {&o, &lse, &dq, &dk, &dv}) out = worst(out, guards(*gd, "attention outputs"));
  return out;
}

template Outcome check_attention<float>(AttnSweep, long, const AttnForwardFn<float>&, const AttnBackwardFn<float>&);
template Outcome check_attention<double>(AttnSweep, long, const AttnForwardFn<double>&, const AttnBackwardFn<double>&);

namespace detail {

void add_attention_cases(std::vector<Case>& out) {
  const std::pair<AttnSweep, const char*> sweeps[] = {{AttnSweep::square_causal, "square_causal"},
                                                      {AttnSweep::decode_causal, "decode_causal"},
                                                      {AttnSweep::full, "full"},
                                                      {AttnSweep::head_dim, "head_dim"}};
  for (const auto& [sweep, name] : sweeps) {
    // Past one 64-key tile and one 64-row query block, and several of each (threaded).
    const std::vector<long> large =
        sweep == AttnSweep::head_dim ? std::vector<long>{64, 100, 128} : std::vector<long>{64, 65, 130, 200};
    out.push_back(make_case("attention_forward+attention_backward", name, [sweep = sweep](auto t, long n) {
      using T = decltype(t);
      return check_attention<T>(sweep, n, [](const AttentionForward<T>& a) { attention_forward(a); },
                                [](const AttentionBackward<T>& a) { attention_backward(a); });
    }, large));
  }
}

}  // namespace detail
}  // namespace pianograd::kernels::cpu::conformance
