// Per-mode math of the modal bank (kernels/cpu/modal.h): the pole, the fractional-delay initial state,
// one recurrence step, one adjoint step and the closing parameter gradients. Shared by the scalar
// reference, the xsimd bodies (set-up and epilogue) and a future CUDA kernel, so all of them agree
// on every formula.
#pragma once
#include <cmath>

#include "kernels/common/host_device.h"

namespace pianograd::kernels {

// Time is cut into blocks of this many samples. Truncation is decided on this absolute grid (a mode
// ends at the first grid point whose state is below the threshold), the SIMD kernels reduce their
// per-lane accumulators once per block, and checkpoint intervals are a multiple of it.
inline constexpr long kModalBlock = 64;

// The constant pole w = exp(-sigma + i omega), evaluated in double so a float bank starts from the
// correctly rounded multiplier (its error is repeated at every sample of the recurrence).
template <class T>
PG_HD void modal_pole(T sigma, T omega, T& wr, T& wi) {
  const double r = std::exp(-static_cast<double>(sigma));
  wr = static_cast<T>(r * std::cos(static_cast<double>(omega)));
  wi = static_cast<T>(r * std::sin(static_cast<double>(omega)));
}

// The state at the integer start sample for a true onset delta samples earlier:
// z[start] = amp * u, u = exp((-sigma + i omega) * delta). u is returned too (d z / d amp).
template <class T>
PG_HD void modal_initial(T amp, T sigma, T omega, T delta, T& zr, T& zi, T& ur, T& ui) {
  const double r = std::exp(-static_cast<double>(sigma) * static_cast<double>(delta));
  const double ph = static_cast<double>(omega) * static_cast<double>(delta);
  ur = static_cast<T>(r * std::cos(ph));
  ui = static_cast<T>(r * std::sin(ph));
  zr = amp * ur;
  zi = amp * ui;
}

// z <- w z (complex multiply; 4 multiplies, 2 adds).
template <class T>
PG_HD void modal_step(T wr, T wi, T& zr, T& zi) {
  const T r = wr * zr - wi * zi;
  zi = wr * zi + wi * zr;
  zr = r;
}

// The adjoint of one step plus the output injection: a <- conj(w) a + i gy. Here a = dL/dRe z +
// i dL/dIm z (the complex cotangent); for z' = w z the real-linear adjoint of multiplication by w
// is multiplication by conj(w), and y += Im z injects i * gy.
template <class T>
PG_HD void modal_adjoint_step(T wr, T wi, T gy, T& ar, T& ai) {
  const T r = wr * ar + wi * ai;
  ai = wr * ai - wi * ar + gy;
  ar = r;
}

// |z|^2 for the truncation test (one formula for every implementation).
template <class T>
PG_HD T modal_mag2(T zr, T zi) { return zr * zr + zi * zi; }

// The closing gradients of one mode. Inputs: q = sum over the transition samples s < n < L of
// conj(a[n]) z[n] (qr, qi) and qd = sum of d[n] Re(conj(a[n]) z[n]) over the same samples, where
// a[n] is the adjoint state; a_s = a[start]; z0 = z[start]; u = z0 / amp.
// Since z[n] = w_n z[n-1] with w_n = exp(lambda_n), lambda_n = -sigma - g d[n] + i omega, a change
// of lambda_n changes z[n] by z[n] dlambda_n, so dL/dtheta = Re(conj(a[n]) z[n] dlambda_n/dtheta):
//   dL/domega = -Im q - delta Im q_s,  dL/dsigma = -Re q - delta Re q_s,  dL/dg = -qd,
// with the initial state's share q_s = conj(a_s) z0 (z0 depends on sigma, omega through delta), and
//   dL/damp = Re(conj(a_s) u),  dL/ddelta = Re(q_s (-sigma + i omega)) = -sigma Re q_s - omega Im q_s.
template <class T>
struct ModalParamGrad {
  T omega, sigma, dgain, amp, delta;
};
template <class T>
PG_HD ModalParamGrad<T> modal_param_grads(T qr, T qi, T qd, T asr, T asi, T z0r, T z0i, T ur, T ui,
                                         T sigma, T omega, T delta) {
  const T qsr = asr * z0r + asi * z0i;
  const T qsi = asr * z0i - asi * z0r;
  ModalParamGrad<T> g;
  g.omega = -qi - delta * qsi;
  g.sigma = -qr - delta * qsr;
  g.dgain = -qd;
  g.amp = asr * ur + asi * ui;
  g.delta = -sigma * qsr - omega * qsi;
  return g;
}

}  // namespace pianograd::kernels
