// Scalar reference of the modal bank: one mode at a time, every state stored. The tests check the
// fast kernels against it and it against float64 central differences; it is also the "scalar" ISA.
#include <algorithm>
#include <vector>

#include "kernels/cpu/modal.h"

namespace pianograd::kernels::cpu::ref {
namespace {

template <class T>
T gate_at(const T* gate, long n_samples, std::int32_t row, long n) {
  return row < 0 ? T(0) : gate[static_cast<long>(row) * n_samples + n];
}

// The step multiplier w_n = (wr, wi) exp(-g d[n]) in the factored form the SIMD kernels use.
template <class T>
void step_pole(T wr, T wi, T g, T d, T& pr, T& pi) {
  const T f = (g == T(0) || d == T(0)) ? T(1) : std::exp(-g * d);
  pr = wr * f;
  pi = wi * f;
}

// States z[start .. L) of one mode; returns L (start when the mode is skipped).
template <class T>
long run_mode(const ModalBank<T>& b, long m, const T* gate, long n, T thr2, std::vector<T>& zr,
              std::vector<T>& zi) {
  const long s = static_cast<long>(b.start[m]);
  zr.clear();
  zi.clear();
  if (s >= n) return s;
  T z0r, z0i, ur, ui;
  modal_initial(b.amp[m], b.sigma[m], b.omega[m], b.delta[m], z0r, z0i, ur, ui);
  if (b.amp[m] == T(0) || modal_mag2(z0r, z0i) < thr2) return s;
  T wr, wi;
  modal_pole(b.sigma[m], b.omega[m], wr, wi);
  T r = z0r, i = z0i;
  zr.push_back(r);
  zi.push_back(i);
  for (long t = s + 1; t < n; ++t) {
    T pr, pi;
    step_pole(wr, wi, b.dgain[m], gate_at(gate, n, b.env[m], t), pr, pi);
    modal_step(pr, pi, r, i);
    if (t % kModalBlock == 0 && modal_mag2(r, i) < thr2) return t;
    zr.push_back(r);
    zi.push_back(i);
  }
  return n;
}

}  // namespace

template <class T>
void modal_forward(const ModalBank<T>& bank, const T* gate, long rows, long n, T* y, const ModalOptions& opt) {
  modal_validate(bank, gate, rows, n, opt);
  const T thr = modal_threshold(bank, opt.rel_threshold);
  std::fill(y, y + n, T(0));
  std::vector<T> zr, zi;
  for (long m = 0; m < bank.count; ++m) {
    const long s = static_cast<long>(bank.start[m]);
    const long end = run_mode(bank, m, gate, n, thr * thr, zr, zi);
    for (long t = s; t < end; ++t) y[t] += zi[static_cast<size_t>(t - s)];
  }
}

// The adjoint, per mode: a[n] = 0 for n >= L, a[n] = i gy[n] + conj(w_{n+1}) a[n+1] for
// start <= n < L (modal_adjoint_step); the sums of conj(a[n]) z[n] over the transitions close into the
// parameter gradients (modal_param_grads); dL/dd[n] = -g Re(conj(a[n]) z[n]) for start < n < L.
template <class T>
void modal_backward(const ModalBank<T>& bank, const T* gate, long rows, long n, const T* gy,
                    const ModalGrads<T>& grads, const ModalOptions& opt) {
  modal_validate(bank, gate, rows, n, opt);
  const T thr = modal_threshold(bank, opt.rel_threshold);
  if (grads.gate) std::fill(grads.gate, grads.gate + rows * n, T(0));
  std::vector<T> zr, zi;
  for (long m = 0; m < bank.count; ++m) {
    const long s = static_cast<long>(bank.start[m]);
    const long end = run_mode(bank, m, gate, n, thr * thr, zr, zi);
    ModalParamGrad<T> pg{T(0), T(0), T(0), T(0), T(0)};
    if (end > s) {
      T wr, wi;
      modal_pole(bank.sigma[m], bank.omega[m], wr, wi);
      const T g = bank.dgain[m];
      const std::int32_t row = bank.env[m];
      T ar = 0, ai = 0, qr = 0, qi = 0, qd = 0;
      for (long t = end - 1; t >= s; --t) {
        T pr = 0, pi = 0;  // w_{t+1}; a[L] = 0, so its value at t = L-1 does not matter
        if (t + 1 < n) step_pole(wr, wi, g, gate_at(gate, n, row, t + 1), pr, pi);
        modal_adjoint_step(pr, pi, gy[t], ar, ai);
        if (t == s) break;
        const size_t k = static_cast<size_t>(t - s);
        const T rq = ar * zr[k] + ai * zi[k];
        qr += rq;
        qi += ar * zi[k] - ai * zr[k];
        const T d = gate_at(gate, n, row, t);
        qd += d * rq;
        if (grads.gate && row >= 0) grads.gate[row * n + t] -= g * rq;
      }
      T z0r, z0i, ur, ui;
      modal_initial(bank.amp[m], bank.sigma[m], bank.omega[m], bank.delta[m], z0r, z0i, ur, ui);
      pg = modal_param_grads(qr, qi, qd, ar, ai, z0r, z0i, ur, ui, bank.sigma[m], bank.omega[m], bank.delta[m]);
    }
    if (grads.omega) grads.omega[m] = pg.omega;
    if (grads.sigma) grads.sigma[m] = pg.sigma;
    if (grads.dgain) grads.dgain[m] = pg.dgain;
    if (grads.amp) grads.amp[m] = pg.amp;
    if (grads.delta) grads.delta[m] = pg.delta;
  }
}

#define PG_MODAL_REF_INST(T)                                                                        \
  template void modal_forward<T>(const ModalBank<T>&, const T*, long, long, T*, const ModalOptions&); \
  template void modal_backward<T>(const ModalBank<T>&, const T*, long, long, const T*,               \
                                  const ModalGrads<T>&, const ModalOptions&);
PG_MODAL_REF_INST(float)
PG_MODAL_REF_INST(double)
#undef PG_MODAL_REF_INST

}  // namespace pianograd::kernels::cpu::ref
