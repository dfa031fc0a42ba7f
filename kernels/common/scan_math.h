// The modal bank's recurrence as a parallel scan (kernels/cpu/modal.h for the semantics; issue 6).
//
// One mode obeys the first-order linear recurrence z[n] = a[n] z[n-1] + b[n] over complex numbers,
// with z[-1] = 0 and
//   n <  start: a = 1,   b = 0        (identity: the string is at rest)
//   n == start: a = 0,   b = z0       (injection: z0 = amp exp((-sigma + i omega) delta))
//   n >  start: a = w_n, b = 0        (w_n = exp(-sigma - g d[n] + i omega))
// An element e = (a, b) is the affine map z -> a z + b. Applying e1 then e2 is again affine:
//   (a1, b1) ∘ (a2, b2) = (a2 a1, a2 b1 + b2),
// an associative (not commutative) operator, so the prefix "compose" over n of the elements gives
// the map from z[-1] = 0 to z[n], whose b part IS z[n]. A scan (Blelloch 1990, "Prefix sums and their
// applications", §1.4 first-order recurrences) evaluates all N prefixes in O(log N) depth, which is
// how the CUDA kernel runs a long mode on a whole thread block instead of one thread.
//
// Everything here is PG_HD: the CUDA scan (kernels/cuda/modal_scan.cu) and the CPU test
// (tests/kernels/test_scan_math.cpp) call the same functions.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"
#include "kernels/common/modal_math.h"

namespace pianograd::kernels {

// The affine map z -> a z + b with complex a = (ar, ai), b = (br, bi).
template <class T>
struct Affine {
  T ar, ai, br, bi;
};

template <class T>
PG_HD Affine<T> affine_identity() { return Affine<T>{T(1), T(0), T(0), T(0)}; }

// first ∘ second: apply `first` (earlier in time), then `second`. 8 multiplies, 6 adds.
template <class T>
PG_HD Affine<T> affine_compose(const Affine<T>& first, const Affine<T>& second) {
  Affine<T> r;
  r.ar = second.ar * first.ar - second.ai * first.ai;
  r.ai = second.ar * first.ai + second.ai * first.ar;
  r.br = second.ar * first.br - second.ai * first.bi + second.br;
  r.bi = second.ar * first.bi + second.ai * first.br + second.bi;
  return r;
}

// The functor form CUB's BlockScan takes (scan_op(earlier, later)).
struct AffineComposeOp {
  template <class T>
  PG_HD Affine<T> operator()(const Affine<T>& first, const Affine<T>& second) const {
    return affine_compose(first, second);
  }
};

// The step multiplier with the damper gate: w_n = (wr, wi) exp(-g d). The factor is skipped when
// g d == 0 so undamped modes step by exactly the correctly rounded pole (as modal_ref.cpp does).
template <class T>
PG_HD void modal_gated_pole(T wr, T wi, T g, T d, T& pr, T& pi) {
  const T f = (g == T(0) || d == T(0)) ? T(1) : std::exp(-g * d);
  pr = wr * f;
  pi = wi * f;
}

// The scan element of one mode at sample n. (wr, wi) = modal_pole(sigma, omega); d = the mode's gate
// value at n (0 when the mode has no envelope row); (z0r, z0i) = modal_initial's state.
template <class T>
PG_HD Affine<T> modal_scan_element(long n, long start, T wr, T wi, T g, T d, T z0r, T z0i) {
  if (n < start) return affine_identity<T>();
  if (n == start) return Affine<T>{T(0), T(0), z0r, z0i};
  Affine<T> e{T(0), T(0), T(0), T(0)};
  modal_gated_pole(wr, wi, g, d, e.ar, e.ai);
  return e;
}

// z = e(z): apply one map to a state (the scan's prefix applied to z[-1] is just its b part, but
// a tiled scan that carries a state instead of a prefix needs this).
template <class T>
PG_HD void affine_apply(const Affine<T>& e, T& zr, T& zi) {
  const T r = e.ar * zr - e.ai * zi + e.br;
  zi = e.ar * zi + e.ai * zr + e.bi;
  zr = r;
}

// ---- the adjoint (backward) as a reverse scan ----
// The adjoint of the modal recurrence (modal_adjoint_step) runs backward in time:
//   a[t] = conj(w_{t+1}) a[t+1] + i gy[t]      for start <= t < n, a[n] = 0,
// which is again an affine map of a[t+1] (A = conj(w_{t+1}), B = i gy[t]). Listing the elements in
// reverse time order (t = n-1 first) and composing with affine_compose gives prefixes whose b part
// is a[t]: the same scan as the forward, run over the reversed sequence. w_{t+1} is the gated pole of
// step t+1 (modal_gated_pole with d = gate[t+1]); past the buffer's end (t + 1 == n) it is 0, so
// a[n-1] = i gy[n-1]. Before the start the adjoint is not needed: identity.
template <class T>
PG_HD Affine<T> modal_adjoint_element(long t, long start, long n, T wr, T wi, T g, T d_next, T gy) {
  if (t < start || t >= n) return affine_identity<T>();
  Affine<T> e{T(0), T(0), T(0), gy};
  if (t + 1 < n) {
    T pr, pi;
    modal_gated_pole(wr, wi, g, d_next, pr, pi);
    e.ar = pr;
    e.ai = -pi;  // conj(w): the real-linear adjoint of multiplication by w
  }
  return e;
}

// The per-sample sums the closing gradients need (modal_param_grads): q = sum conj(a[t]) z[t] and
// qd = sum d[t] Re(conj(a[t]) z[t]) over the transition samples start < t < n.
template <class T>
struct AdjointSums {
  T qr, qi, qd;
};
// Adds sample t's terms; returns Re(conj(a) z), of which dL/dgate[t] = -g times (modal_ref.cpp).
template <class T>
PG_HD T modal_adjoint_accumulate(T ar, T ai, T zr, T zi, T d, AdjointSums<T>& s) {
  const T rq = ar * zr + ai * zi;
  s.qr += rq;
  s.qi += ar * zi - ai * zr;
  s.qd += d * rq;
  return rq;
}

}  // namespace pianograd::kernels
