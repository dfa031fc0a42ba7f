// The adjoint (backward) body of the modal bank, included by modal_simd.h. Per group of modes and per
// checkpoint segment [c0, c1), last segment first: the states z[c0 .. c1) are recomputed from the
// tape's checkpoint into a segment buffer (with exactly the forward's code path, injections and
// truncation, so they are bit-identical to the forward's), then the adjoint recurrence
//   a[t] = conj(w_{t+1}) a[t+1] + i gy[t],   a[t] = 0 for t >= L        (kernels/common/modal_math.h)
// runs backward through it, accumulating q = sum conj(a[t]) z[t], qd = sum d[t] Re(...) and, when
// the gate gradient is wanted, -g Re(conj(a[t]) z[t]) per sample. Memory: the tape's M N / C
// checkpoints plus one C-sample buffer per thread.
//
// The accumulation runs over every t >= start; the start sample's own share q_s (which belongs to
// the initial state, not to a transition) is subtracted in the epilogue and excluded from the gate
// gradient, after the adjoint at the start, a[start], has been captured.
#pragma once

namespace pianograd::kernels::cpu::modal_simd {

// One group backward over segment-relative samples k in [k0, k1), last first. a, q, qd hold the
// group's lanes; zs is [k][re/im][lane]; gy is k-indexed; gq (kGate) receives dgain * Re(conj(a) z)
// at [k - kb][lane]. The block kind (Plan::kind) selects the poles of the steps out of each sample:
// 0 the constant poles pr, pi (gate 0); 1 the block's poles pr, pi with constant gate cv; 2 pr, pi
// times ex[k][lane] with the gates dv[k][lane].
template <class Arch, class T, int kKind, bool kGate>
void adjoint(const T* pr, const T* pi, const T* cv, const T* gwv, T* ar, T* ai, T* qr, T* qi, T* qd, const T* zs,
             const T* ex, const T* dv, const T* gy, T* gq, long kb, long k0, long k1) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = static_cast<long>(B::size);
  constexpr int G = kGroupFor<W>;
  constexpr long GW = W * G;
  B Ar[G], Ai[G], Qr[G], Qi[G], Qd[G];
  for (int i = 0; i < G; ++i) {
    Ar[i] = B::load_unaligned(ar + i * W);
    Ai[i] = B::load_unaligned(ai + i * W);
    Qr[i] = B::load_unaligned(qr + i * W);
    Qi[i] = B::load_unaligned(qi + i * W);
    if constexpr (kKind > 0) Qd[i] = B::load_unaligned(qd + i * W);
  }
  for (long k = k1 - 1; k >= k0; --k) {
    const B gv(gy[k]);
    for (int i = 0; i < G; ++i) {
      B a = B::load_unaligned(pr + i * W), b = B::load_unaligned(pi + i * W);
      if constexpr (kKind == 2) {
        const B f = B::load_unaligned(ex + k * GW + i * W);
        a *= f;
        b *= f;
      }
      // a <- conj(w) a + i gy
      const B nr = xsimd::fma(a, Ar[i], b * Ai[i]);
      Ai[i] = xsimd::fnma(b, Ar[i], xsimd::fma(a, Ai[i], gv));
      Ar[i] = nr;
      const B zr = B::load_unaligned(zs + k * 2 * GW + i * W);
      const B zi = B::load_unaligned(zs + k * 2 * GW + GW + i * W);
      // q += conj(a) z
      const B rq = xsimd::fma(Ar[i], zr, Ai[i] * zi);
      Qr[i] += rq;
      Qi[i] = xsimd::fma(Ar[i], zi, xsimd::fnma(Ai[i], zr, Qi[i]));
      if constexpr (kKind == 1) Qd[i] = xsimd::fma(B::load_unaligned(cv + i * W), rq, Qd[i]);
      if constexpr (kKind == 2) Qd[i] = xsimd::fma(B::load_unaligned(dv + k * GW + i * W), rq, Qd[i]);
      if constexpr (kGate) (B::load_unaligned(gwv + i * W) * rq).store_unaligned(gq + (k - kb) * GW + i * W);
    }
  }
  for (int i = 0; i < G; ++i) {
    Ar[i].store_unaligned(ar + i * W);
    Ai[i].store_unaligned(ai + i * W);
    Qr[i].store_unaligned(qr + i * W);
    Qi[i].store_unaligned(qi + i * W);
    if constexpr (kKind > 0) Qd[i].store_unaligned(qd + i * W);
  }
}

template <class Arch, class T, int kKind>
void adjoint_kind(bool gate, const T* pr, const T* pi, const T* cv, const T* gwv, T* ar, T* ai, T* qr, T* qi, T* qd,
                  const T* zs, const T* ex, const T* dv, const T* gy, T* gq, long kb, long k0, long k1) {
  if (gate) adjoint<Arch, T, kKind, true>(pr, pi, cv, gwv, ar, ai, qr, qi, qd, zs, ex, dv, gy, gq, kb, k0, k1);
  else adjoint<Arch, T, kKind, false>(pr, pi, cv, gwv, ar, ai, qr, qi, qd, zs, ex, dv, gy, gq, kb, k0, k1);
}

// dL/dgate[row][b0 + k] -= gq[k][lane] for the group's lanes. Batches whose damped lanes share one
// row (a note's partials) are summed per row and reduced W samples at a time (hsum_rows); mixed batches
// go lane by lane.
template <class Arch, class T>
void scatter_gate(const Plan<Arch, T>& p, long gi, const T* gq, T* tmp, T* gt, long b0, long len) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = Plan<Arch, T>::W, GW = Plan<Arch, T>::GW;
  constexpr int G = Plan<Arch, T>::G;
  const long nb = gi * G;
  bool done[G] = {};
  for (int i = 0; i < G; ++i) {
    const std::int32_t r = p.brow[nb + i];
    if (r == -1 || done[i]) continue;
    if (r == -2) {
      for (long j = i * W; j < i * W + W; ++j) {
        const long l = gi * GW + j;
        if (p.row[l] < 0) continue;
        T* dst = gt + p.row[l] * p.n + b0;
        for (long k = 0; k < len; ++k) dst[k] -= gq[k * GW + j];
      }
      continue;
    }
    for (long k = 0; k < len; ++k) B::load_unaligned(gq + k * GW + i * W).store_unaligned(tmp + k * W);
    for (int i2 = i + 1; i2 < G; ++i2)
      if (p.brow[nb + i2] == r) {
        done[i2] = true;
        for (long k = 0; k < len; ++k)
          (B::load_unaligned(tmp + k * W) + B::load_unaligned(gq + k * GW + i2 * W)).store_unaligned(tmp + k * W);
      }
    T* dst = gt + r * p.n + b0;
    long k = 0;
    for (; k + W <= len; k += W) {
      B rows_[W];
      for (long j = 0; j < W; ++j) rows_[j] = B::load_unaligned(tmp + (k + j) * W);
      (B::load_unaligned(dst + k) - simd::hsum_rows(rows_)).store_unaligned(dst + k);
    }
    for (; k < len; ++k) dst[k] -= xsimd::hadd(B::load_unaligned(tmp + k * W));
  }
}

template <class Arch, class T>
void backward(const ModalBank<T>& bank, const T* gate, long rows, long n, const T* gy, const ModalGrads<T>& grads,
              const ModalOptions& opt, const ModalTape<T>& tape) {
  const Plan<Arch, T> p(bank, gate, rows, n, opt);
  constexpr long W = Plan<Arch, T>::W, GW = Plan<Arch, T>::GW;
  const long C = opt.checkpoint, nck = tape.checkpoints;
  const bool want_gate = grads.gate != nullptr && rows > 0;
  // Per group and block: is any of its rows' gate gradient wanted there (ModalGrads::gate_blocks)?
  auto want_block = [&](long gi, long blk) {
    if (!want_gate) return false;
    if (!grads.gate_blocks) return true;
    for (const std::int32_t r : p.grows[gi])
      if (grads.gate_blocks[r * p.nblocks + blk]) return true;
    return false;
  };
  for (T* g : {grads.omega, grads.sigma, grads.dgain, grads.amp, grads.delta})
    if (g) std::fill(g, g + bank.count, T(0));
  if (want_gate) std::fill(grads.gate, grads.gate + rows * n, T(0));
  std::vector<long> lane_end(static_cast<size_t>(p.lanes), 0);
  for (long l = 0; l < p.lanes; ++l)
    if (p.mode[l] >= 0) lane_end[l] = static_cast<long>(tape.end[p.mode[l]]);
  const int nt = thread_count(p.lanes, n);
  std::vector<T> gparts(want_gate && nt > 1 ? static_cast<size_t>(nt * rows * n) : 0, T(0));
  std::vector<T> zr(static_cast<size_t>(p.lanes), T(0)), zi(zr.size());
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int tid = omp_get_thread_num();
    T* gt = want_gate ? (nt > 1 ? gparts.data() + tid * rows * n : grads.gate) : nullptr;
    std::vector<T> zs(static_cast<size_t>(C * 2 * GW)), ex(static_cast<size_t>(C * GW)), dv(ex.size());
    std::vector<T> gq(want_gate ? static_cast<size_t>(K * GW) : 0), tmp(static_cast<size_t>(K * W));
    std::vector<T> ar(GW), ai(GW), qr(GW), qi(GW), qd(GW), asr(GW), asi(GW);
    std::vector<T> bpr(static_cast<size_t>(C / K * GW)), bpi(bpr.size()), bc(bpr.size());
    std::vector<T> pe(static_cast<size_t>(std::max(1L, p.maxpairs) * K));
    std::vector<unsigned char> blkk(static_cast<size_t>(C / K));
    for (long gi = tid; gi < p.groups; gi += nt) {
      const long off = gi * GW, gend = p.gend[gi], first = p.start[off];
      long maxl = 0;
      for (long l = off; l < gend; ++l) maxl = std::max(maxl, lane_end[l]);
      for (auto* v : {&ar, &ai, &qr, &qi, &qd, &asr, &asi}) std::fill(v->begin(), v->end(), T(0));
      for (long seg = (maxl - 1) / C; seg >= first / C; --seg) {
        const long c0 = seg * C, c1 = std::min(c0 + C, n);
        for (long l = off; l < off + GW; ++l) {
          const long m = p.mode[l];
          zr[l] = m >= 0 ? tape.z[(m * nck + seg) * 2] : T(0);
          zi[l] = m >= 0 ? tape.z[(m * nck + seg) * 2 + 1] : T(0);
        }
        long ev = std::lower_bound(p.start.begin() + off, p.start.begin() + gend, c0) - p.start.begin();
        // Recompute z over the segment, exactly as the forward did.
        for (long b0 = c0; b0 < c1; b0 += K) {
          const long b1 = std::min(b0 + K, c1);
          const long bi = (b0 - c0) / K;
          const int kd = p.kind(gi, b0 / K);
          blkk[bi] = static_cast<unsigned char>(kd);
          const T *pr = p.wr.data() + off, *pi = p.wi.data() + off;
          if (kd == 2) p.damp_factors(gi, b0, b1, ex.data() + (b0 - c0) * GW, dv.data() + (b0 - c0) * GW, pe.data());
          if (kd == 1) {
            p.block_poles(gi, b0 / K, bpr.data() + bi * GW, bpi.data() + bi * GW, bc.data() + bi * GW);
            pr = bpr.data() + bi * GW;
            pi = bpi.data() + bi * GW;
          }
          run_block<Arch, T, false, true>(p, gi, b0, b1, kd == 2, pr, pi, zr.data(), zi.data(), ev, ex.data(), c0,
                                          nullptr, zs.data(), c0, nullptr);
          for (long l = off; l < gend; ++l)
            if (lane_end[l] == b1) zr[l] = zi[l] = T(0);
        }
        // The adjoint through the segment's blocks, last first.
        for (long b0 = c0 + (c1 - c0 - 1) / K * K; b0 >= c0; b0 -= K) {
          const long b1 = std::min(b0 + K, c1);
          for (long j = 0; j < GW; ++j)
            if (lane_end[off + j] <= b1) ar[j] = ai[j] = T(0);
          const long bi = (b0 - c0) / K;
          const int kd = blkk[bi];
          const T* pr = kd == 1 ? bpr.data() + bi * GW : p.wr.data() + off;
          const T* pi = kd == 1 ? bpi.data() + bi * GW : p.wi.data() + off;
          const T* cv = bc.data() + bi * GW;
          const T* gwv = p.gw.data() + off;
          const bool wg = want_block(gi, b0 / K);
          auto span = [&](long t0, long t1) {
            auto* fn = kd == 0 ? &adjoint_kind<Arch, T, 0> : kd == 1 ? &adjoint_kind<Arch, T, 1> : &adjoint_kind<Arch, T, 2>;
            fn(wg, pr, pi, cv, gwv, ar.data(), ai.data(), qr.data(), qi.data(), qd.data(), zs.data(), ex.data(),
               dv.data(), gy + c0, gq.data(), b0 - c0, t0 - c0, t1 - c0);
          };
          const long e0 = std::lower_bound(p.start.begin() + off, p.start.begin() + gend, b0) - p.start.begin();
          long e = std::lower_bound(p.start.begin() + off, p.start.begin() + gend, b1) - p.start.begin();
          long hi = b1;
          while (e > e0) {  // lanes starting inside this block, latest first
            const long s = p.start[e - 1];
            span(s, hi);
            for (; e > e0 && p.start[e - 1] == s; --e) {
              const long j = e - 1 - off;
              asr[j] = ar[j];
              asi[j] = ai[j];
              if (wg) gq[(s - b0) * GW + j] = T(0);
            }
            hi = s;
          }
          span(b0, hi);
          if (wg) scatter_gate(p, gi, gq.data(), tmp.data(), gt, b0, b1 - b0);
        }
      }
      for (long l = off; l < gend; ++l) {
        const long j = l - off, m = p.mode[l], s = p.start[l];
        T z0r, z0i, ur, ui;
        modal_initial(bank.amp[m], bank.sigma[m], bank.omega[m], bank.delta[m], z0r, z0i, ur, ui);
        const T qsr = asr[j] * z0r + asi[j] * z0i, qsi = asr[j] * z0i - asi[j] * z0r;
        const T ds = p.row[l] >= 0 ? gate[p.row[l] * n + s] : T(0);
        const ModalParamGrad<T> pg = modal_param_grads(qr[j] - qsr, qi[j] - qsi, qd[j] - ds * qsr, asr[j], asi[j],
                                                       z0r, z0i, ur, ui, bank.sigma[m], bank.omega[m], bank.delta[m]);
        if (grads.omega) grads.omega[m] = pg.omega;
        if (grads.sigma) grads.sigma[m] = pg.sigma;
        if (grads.dgain) grads.dgain[m] = pg.dgain;
        if (grads.amp) grads.amp[m] = pg.amp;
        if (grads.delta) grads.delta[m] = pg.delta;
      }
    }
  }
  if (want_gate && nt > 1)
    for (int t = 0; t < nt; ++t)
      for (long i = 0; i < rows * n; ++i) grads.gate[i] += gparts[static_cast<size_t>(t) * rows * n + i];
}

}  // namespace pianograd::kernels::cpu::modal_simd

// Instantiates the ISA namespace's entry points over the templated bodies for one architecture.
#define PG_MODAL_ISA_DEFINE(ns, Arch)                                                                  \
  namespace pianograd::kernels::cpu::ns {                                                              \
  template <class T>                                                                                   \
  void modal_forward(const ModalBank<T>& bank, const T* gate, long rows, long n, T* y,                 \
                     const ModalOptions& opt, ModalTape<T>* tape) {                                    \
    modal_simd::forward<Arch, T>(bank, gate, rows, n, y, opt, tape);                                   \
  }                                                                                                    \
  template <class T>                                                                                   \
  void modal_backward(const ModalBank<T>& bank, const T* gate, long rows, long n, const T* gy,         \
                      const ModalGrads<T>& grads, const ModalOptions& opt, const ModalTape<T>& tape) { \
    modal_simd::backward<Arch, T>(bank, gate, rows, n, gy, grads, opt, tape);                          \
  }                                                                                                    \
  template void modal_forward<float>(const ModalBank<float>&, const float*, long, long, float*,        \
                                     const ModalOptions&, ModalTape<float>*);                          \
  template void modal_forward<double>(const ModalBank<double>&, const double*, long, long, double*,    \
                                      const ModalOptions&, ModalTape<double>*);                        \
  template void modal_backward<float>(const ModalBank<float>&, const float*, long, long, const float*, \
                                      const ModalGrads<float>&, const ModalOptions&,                   \
                                      const ModalTape<float>&);                                        \
  template void modal_backward<double>(const ModalBank<double>&, const double*, long, long,            \
                                       const double*, const ModalGrads<double>&, const ModalOptions&,  \
                                       const ModalTape<double>&);                                      \
  }
