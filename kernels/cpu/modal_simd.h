// The xsimd bodies of the modal bank (kernels/cpu/modal.h), templated on the architecture and included
// only by the per-ISA translation units (xsimd 8.1 needs the ISA's -m flags on the whole TU).
//
// Layout. The audible modes are sorted by start and packed SoA into lanes: W modes per batch (one
// xsimd batch), G = kGroupFor<W> batches per group. The inner loop advances one group: G independent
// complex recurrences, so the ~8-cycle mul -> FMA latency of each chain is hidden behind the others
// (with 8-lane AVX2, 4 batches x 4 vector ops fill 2 FMA ports for 8 cycles). Time runs in blocks of kModalBlock
// samples; every group adds its lanes into one block accumulator acc[k][lane], and the horizontal
// sum happens once per sample per block, not per batch. A block in which no lane of a group has a
// non-zero damper gate runs on the constant pole (no exp in the loop); otherwise exp(-g d) is
// computed with xsimd::exp for the block first, once per distinct (gate row, dgain) of the group. Modes starting inside a block are injected between
// sub-intervals (starts are sorted, so this is a forward walk through the group's lanes).
//
// Threads: groups are dealt round-robin to OpenMP threads; each thread has its own output (and
// gate-gradient) accumulator, summed in thread order at the end, so results are deterministic for a
// given thread count.
#pragma once
#include <omp.h>

#include <algorithm>
#include <numeric>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "kernels/cpu/modal.h"
#include "kernels/cpu/simd_hsum.h"

namespace pianograd::kernels::cpu::modal_simd {

// Batches per group: enough independent recurrences to hide the ~8-cycle mul -> FMA latency, and no
// more, since a group runs from its first lane's start until its last lane ends (a wider group carries
// more idle lanes through a render of many short strikes). 4 batches of 4 or 8 lanes; 2 of 16: as many
// lanes as AVX2's groups, and on CPUs that split 512-bit operations in two (AMD Zen 4) as many
// operations in flight. Measured there, 2 instead of 4: the roll renderer's forward+backward (the synth
// loop's) 275 -> 239 ms (AVX2: 240), the 10-note chord's forward 0.98 -> 1.07 ms (bench/README.md).
template <long W>
inline constexpr int kGroupFor = W >= 16 ? 2 : 4;
inline constexpr long K = kModalBlock;

template <class Arch, class T>
struct Plan {
  using B = xsimd::batch<T, Arch>;
  static constexpr long W = static_cast<long>(B::size);
  static constexpr int G = kGroupFor<W>;  // batches per group
  static constexpr long GW = W * G;       // lanes per group
  long n = 0, groups = 0, lanes = 0, nblocks = 0;
  T thr2 = 0;
  const T* gate = nullptr;
  std::vector<long> mode, start;         // per lane; padding: mode -1, start n
  std::vector<std::int32_t> row;         // per lane: gate row, -1 when never damped (env -1, dgain 0)
  std::vector<T> wr, wi, g, z0r, z0i;    // per lane
  std::vector<long> gend;                // per group: one past its last real lane
  std::vector<std::vector<std::int32_t>> grows;  // per group: distinct gate rows
  std::vector<std::int32_t> brow;        // per batch: the gate row of its damped lanes, -1 none, -2 mixed
  std::vector<T> gw;                     // per lane: dgain where the lane has a gate row, else 0
  // [row][block] over samples [b0, min(b0 + K, n - 1)] (the gates a block's steps and its backward
  // read): 0 all zero, 1 constant (value in rowval; e.g. a fully released damper), 2 varying.
  std::vector<unsigned char> rowkind;
  std::vector<T> rowval;
  // Damping pairs: a note's partials share one gate row and (in the renderers) one dgain, so
  // exp(-g d[t]) is computed once per distinct (row, g) of a group and sample, not once per lane.
  std::vector<long> poff;                // per group: its pairs are [poff[gi], poff[gi + 1])
  std::vector<std::int32_t> prow;        // per pair: gate row
  std::vector<T> pg;                     // per pair: dgain
  std::vector<std::int32_t> lpair;       // per lane: pair index within its group, -1 undamped
  std::vector<std::int32_t> bpair;       // per batch: the pair of all its lanes, -1 all undamped, -2 mixed
  long maxpairs = 0;                     // the most pairs of one group (scratch of damp_factors: maxpairs K)

  Plan(const ModalBank<T>& b, const T* gate_, long rows, long n_, const ModalOptions& opt) : n(n_), gate(gate_) {
    const T thr = modal_threshold(b, opt.rel_threshold);
    thr2 = thr * thr;
    std::vector<long> live;
    std::vector<T> zr0(static_cast<size_t>(b.count)), zi0(zr0.size());
    for (long m = 0; m < b.count; ++m) {
      T ur, ui;
      modal_initial(b.amp[m], b.sigma[m], b.omega[m], b.delta[m], zr0[m], zi0[m], ur, ui);
      if (b.start[m] < n && b.amp[m] != T(0) && !(modal_mag2(zr0[m], zi0[m]) < thr2)) live.push_back(m);
    }
    std::stable_sort(live.begin(), live.end(), [&](long x, long y) { return b.start[x] < b.start[y]; });
    const long real = static_cast<long>(live.size());
    groups = (real + GW - 1) / GW;
    lanes = groups * GW;
    const size_t L = static_cast<size_t>(lanes);
    mode.assign(L, -1);
    start.assign(L, n);
    row.assign(L, -1);
    wr.assign(L, T(0)); wi.assign(L, T(0)); g.assign(L, T(0)); z0r.assign(L, T(0)); z0i.assign(L, T(0));
    for (long l = 0; l < real; ++l) {
      const long m = live[l];
      mode[l] = m;
      start[l] = static_cast<long>(b.start[m]);
      g[l] = b.dgain[m];
      row[l] = (b.dgain[m] != T(0)) ? b.env[m] : -1;
      modal_pole(b.sigma[m], b.omega[m], wr[l], wi[l]);
      z0r[l] = zr0[m];
      z0i[l] = zi0[m];
    }
    gend.resize(static_cast<size_t>(groups));
    grows.resize(static_cast<size_t>(groups));
    for (long gi = 0; gi < groups; ++gi) {
      gend[gi] = std::min((gi + 1) * GW, real);
      auto& rs = grows[gi];
      for (long l = gi * GW; l < gend[gi]; ++l)
        if (row[l] >= 0 && std::find(rs.begin(), rs.end(), row[l]) == rs.end()) rs.push_back(row[l]);
    }
    gw.assign(L, T(0));
    brow.assign(static_cast<size_t>(lanes / W), -1);
    for (long l = 0; l < lanes; ++l) {
      if (row[l] < 0) continue;
      gw[l] = g[l];
      std::int32_t& br = brow[l / W];
      br = (br == -1 || br == row[l]) ? row[l] : -2;
    }
    poff.assign(static_cast<size_t>(groups + 1), 0);
    lpair.assign(L, -1);
    bpair.assign(static_cast<size_t>(lanes / W), -1);
    for (long gi = 0; gi < groups; ++gi) {
      const long p0 = static_cast<long>(prow.size());
      poff[gi] = p0;
      for (long l = gi * GW; l < gi * GW + GW; ++l) {
        if (row[l] < 0) continue;
        long q = p0;
        while (q < static_cast<long>(prow.size()) && !(prow[q] == row[l] && pg[q] == g[l])) ++q;
        if (q == static_cast<long>(prow.size())) prow.push_back(row[l]), pg.push_back(g[l]);
        lpair[l] = static_cast<std::int32_t>(q - p0);
      }
      maxpairs = std::max(maxpairs, static_cast<long>(prow.size()) - p0);
      for (long bi = gi * G; bi < gi * G + G; ++bi) {
        std::int32_t& bp = bpair[bi];
        bp = lpair[bi * W];
        for (long l = bi * W + 1; l < bi * W + W; ++l)
          if (lpair[l] != bp) bp = -2;
      }
    }
    poff[groups] = static_cast<long>(prow.size());
    nblocks = (n + K - 1) / K;
    rowkind.assign(static_cast<size_t>(rows * nblocks), 0);
    rowval.assign(rowkind.size(), T(0));
    for (long r = 0; r < rows; ++r)
      for (long k = 0; k < nblocks; ++k) {
        const T* d = gate + r * n;
        const T d0 = d[k * K];
        const long hi = std::min(k * K + K, n - 1);
        int diff = 0;  // no early exit: the compare loop vectorises
        for (long t = k * K + 1; t <= hi; ++t) diff |= d[t] != d0;
        rowkind[r * nblocks + k] = diff == 0 ? (d0 == T(0) ? 0 : 1) : 2;
        rowval[r * nblocks + k] = d0;
      }
  }
  int kind(long gi, long blk) const {
    int kd = 0;
    for (const std::int32_t r : grows[gi]) kd = std::max(kd, static_cast<int>(rowkind[r * nblocks + blk]));
    return kd;
  }
  // For a block of kind <= 1: the poles w exp(-g c) of the group's lanes with the block's constant
  // gate c (the same expression as the reference's per-sample factor), and c itself.
  void block_poles(long gi, long blk, T* pr, T* pi, T* c) const {
    for (long j = 0; j < GW; ++j) {
      const long l = gi * GW + j;
      const T v = row[l] >= 0 ? rowval[row[l] * nblocks + blk] : T(0);
      const T f = v == T(0) ? T(1) : std::exp(-g[l] * v);
      pr[j] = wr[l] * f;
      pi[j] = wi[l] * f;
      c[j] = v;
    }
  }
  // ex[k][lane] = exp(-g d[t + 1]) for t = b0 + k in [b0, b1) (the factor of the step out of t), and
  // optionally dv[k][lane] = d[t] (the gate of the step into t, for the backward). The exps are taken
  // per damping pair into pe (maxpairs x K scratch) and broadcast to the lanes: the same xsimd::exp of
  // the same argument as lane by lane, so bit-identical, at a fraction of the cost.
  void damp_factors(long gi, long b0, long b1, T* ex, T* dv, T* pe) const {
    const long len = b1 - b0, p0 = poff[gi], np = poff[gi + 1] - p0;
    for (long q = 0; q < np; ++q) {
      const T* d = gate + prow[p0 + q] * n;
      const T gq = pg[p0 + q];
      T* e = pe + q * K;
      for (long k = 0; k < K; ++k) e[k] = (k < len && b0 + k + 1 < n) ? -gq * d[b0 + k + 1] : T(0);
      for (long k = 0; k < K; k += W) xsimd::exp(B::load_unaligned(e + k)).store_unaligned(e + k);
    }
    for (long i = 0; i < G; ++i) {
      const std::int32_t bq = bpair[gi * G + i];
      if (bq >= -1) {  // one pair (or none) for the whole batch: broadcast stores
        const T* e = bq >= 0 ? pe + bq * K : nullptr;
        const T* d = bq >= 0 ? gate + prow[p0 + bq] * n + b0 : nullptr;
        for (long k = 0; k < len; ++k) {
          B(e ? e[k] : T(1)).store_unaligned(ex + k * GW + i * W);
          if (dv) B(d ? d[k] : T(0)).store_unaligned(dv + k * GW + i * W);
        }
        continue;
      }
      for (long j = i * W; j < i * W + W; ++j) {
        const std::int32_t q = lpair[gi * GW + j];
        const T* e = q >= 0 ? pe + q * K : nullptr;
        const T* d = q >= 0 ? gate + prow[p0 + q] * n + b0 : nullptr;
        for (long k = 0; k < len; ++k) {
          ex[k * GW + j] = e ? e[k] : T(1);
          if (dv) dv[k * GW + j] = d ? d[k] : T(0);
        }
      }
    }
  }
};

// Advances one group over block-relative samples [k0, k1): emits z[t], then z <- w_{t+1} z. zr, zi,
// wr, wi point at the group's lanes; ex (kDamped) is indexed [k][lane]; acc (kAcc) is [k][W], the
// sum of the group's batches; zout (kStore) receives [k][re/im][lane].
template <class Arch, class T, bool kDamped, bool kAcc, bool kStore>
void advance(T* zr, T* zi, const T* wr, const T* wi, const T* ex, T* acc, T* zout, long k0, long k1) {
  using B = xsimd::batch<T, Arch>;
  constexpr long W = static_cast<long>(B::size);
  constexpr int G = kGroupFor<W>;
  constexpr long GW = W * G;
  B r[G], im[G], pr[G], pi[G];
  for (int i = 0; i < G; ++i) {
    r[i] = B::load_unaligned(zr + i * W);
    im[i] = B::load_unaligned(zi + i * W);
    pr[i] = B::load_unaligned(wr + i * W);
    pi[i] = B::load_unaligned(wi + i * W);
  }
  for (long k = k0; k < k1; ++k) {
    if constexpr (kAcc) {
      B s = im[0];
      for (int i = 1; i < G; ++i) s += im[i];
      (B::load_unaligned(acc + k * W) + s).store_unaligned(acc + k * W);
    }
    for (int i = 0; i < G; ++i) {
      if constexpr (kStore) {
        r[i].store_unaligned(zout + k * 2 * GW + i * W);
        im[i].store_unaligned(zout + k * 2 * GW + GW + i * W);
      }
      B a = pr[i], b = pi[i];
      if constexpr (kDamped) {
        const B f = B::load_unaligned(ex + k * GW + i * W);
        a *= f;
        b *= f;
      }
      const B nr = xsimd::fms(a, r[i], b * im[i]);
      im[i] = xsimd::fma(a, im[i], b * r[i]);
      r[i] = nr;
    }
  }
  for (int i = 0; i < G; ++i) {
    r[i].store_unaligned(zr + i * W);
    im[i].store_unaligned(zi + i * W);
  }
}

// One group through block [b0, b1): injections at the lanes' starts, then `advance`. ev is the group's
// next lane to inject. The caller passes k-relative pointers of its buffers (k = t - base).
template <class Arch, class T, bool kAcc, bool kStore>
void run_block(const Plan<Arch, T>& p, long gi, long b0, long b1, bool damped, const T* pr, const T* pi, T* zr,
               T* zi, long& ev, const T* ex, long ex_base, T* acc, T* zout, long zout_base,
               std::vector<unsigned char>* alive) {
  const long GW = Plan<Arch, T>::GW, off = gi * GW;
  long t = b0;
  while (t < b1) {
    for (; ev < p.gend[gi] && p.start[ev] == t; ++ev) {
      zr[ev] = p.z0r[ev];
      zi[ev] = p.z0i[ev];
      if (alive) (*alive)[ev] = 1;
    }
    const long next = ev < p.gend[gi] ? std::min(b1, p.start[ev]) : b1;
    const long k0 = t - b0, k1 = next - b0;
    const long zo = b0 - zout_base;  // zout index of k = 0
    T* zo_ptr = kStore ? zout + zo * 2 * GW : nullptr;
    const T* ex_ptr = damped ? ex + (b0 - ex_base) * GW : nullptr;
    if (damped)
      advance<Arch, T, true, kAcc, kStore>(zr + off, zi + off, pr, pi, ex_ptr, acc, zo_ptr, k0, k1);
    else
      advance<Arch, T, false, kAcc, kStore>(zr + off, zi + off, pr, pi, ex_ptr, acc, zo_ptr, k0, k1);
    t = next;
  }
}

inline int thread_count(long lanes, long n) {
  const long work = lanes * n;
  if (work < (1L << 22)) return 1;
  return std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>(lanes / 32)));
}

template <class Arch, class T>
void forward(const ModalBank<T>& bank, const T* gate, long rows, long n, T* y, const ModalOptions& opt,
             ModalTape<T>* tape) {
  using B = xsimd::batch<T, Arch>;
  const Plan<Arch, T> p(bank, gate, rows, n, opt);
  constexpr long W = Plan<Arch, T>::W, GW = Plan<Arch, T>::GW;
  const long C = opt.checkpoint, nck = (n + C - 1) / C;
  if (tape) {
    tape->samples = n;
    tape->checkpoint = C;
    tape->checkpoints = nck;
    tape->threshold = static_cast<T>(std::sqrt(p.thr2));
    tape->z.assign(static_cast<size_t>(bank.count * nck * 2), T(0));
    tape->end.assign(static_cast<size_t>(bank.count), 0);
    for (long m = 0; m < bank.count; ++m) tape->end[m] = bank.start[m];
    for (long l = 0; l < p.lanes; ++l)
      if (p.mode[l] >= 0) tape->end[p.mode[l]] = n;
  }
  std::vector<T> zr(static_cast<size_t>(p.lanes), T(0)), zi(zr.size());
  std::vector<unsigned char> alive(zr.size(), 0);
  const int nt = thread_count(p.lanes, n);
  std::vector<T> yparts(nt > 1 ? static_cast<size_t>(nt * n) : 0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int tid = omp_get_thread_num();
    T* yt = nt > 1 ? yparts.data() + tid * n : y;
    std::fill(yt, yt + n, T(0));
    std::vector<T> acc(static_cast<size_t>(K * W)), ex(static_cast<size_t>(K * GW));
    std::vector<T> bpr(GW), bpi(GW), bc(GW), pe(static_cast<size_t>(std::max(1L, p.maxpairs) * K));
    std::vector<long> ev;
    std::vector<long> live_count;
    std::vector<long> mine;
    for (long gi = tid; gi < p.groups; gi += nt) mine.push_back(gi);
    for (const long gi : mine) ev.push_back(gi * GW);
    live_count.assign(mine.size(), 0);
    std::vector<unsigned char> done(mine.size(), 0);
    for (long b0 = 0; b0 < n; b0 += K) {
      const long b1 = std::min(b0 + K, n), blk = b0 / K;
      if (tape && b0 % C == 0)
        for (size_t j = 0; j < mine.size(); ++j)
          for (long l = mine[j] * GW; l < ev[j]; ++l)
            if (alive[l]) {
              T* dst = tape->z.data() + (p.mode[l] * nck + b0 / C) * 2;
              dst[0] = zr[l];
              dst[1] = zi[l];
            }
      std::fill(acc.begin(), acc.end(), T(0));
      bool any = false;
      for (size_t j = 0; j < mine.size(); ++j) {
        const long gi = mine[j];
        if (p.start[gi * GW] >= b1) break;  // groups are sorted by start
        if (done[j]) continue;
        any = true;
        const int kd = p.kind(gi, blk);
        const T *pr = p.wr.data() + gi * GW, *pi = p.wi.data() + gi * GW;
        if (kd == 2) p.damp_factors(gi, b0, b1, ex.data(), nullptr, pe.data());
        if (kd == 1) {
          p.block_poles(gi, blk, bpr.data(), bpi.data(), bc.data());
          pr = bpr.data();
          pi = bpi.data();
        }
        const long ev0 = ev[j];
        run_block<Arch, T, true, false>(p, gi, b0, b1, kd == 2, pr, pi, zr.data(), zi.data(), ev[j], ex.data(), b0,
                                        acc.data(), nullptr, 0, &alive);
        live_count[j] += ev[j] - ev0;
        // Truncation on the block grid: a lane below threshold at b1 ends there (modal.h).
        if (b1 < n && p.thr2 > T(0))
          for (long l = gi * GW; l < ev[j]; ++l)
            if (alive[l] && modal_mag2(zr[l], zi[l]) < p.thr2) {
              zr[l] = zi[l] = T(0);
              alive[l] = 0;
              --live_count[j];
              if (tape) tape->end[p.mode[l]] = b1;
            }
        done[j] = live_count[j] == 0 && ev[j] == p.gend[gi];
      }
      if (any) {  // W samples' horizontal sums at once (hsum_rows), the tail one by one
        long k = 0;
        for (; k + W <= b1 - b0; k += W) {
          B rows_[W];
          for (long i = 0; i < W; ++i) rows_[i] = B::load_unaligned(acc.data() + (k + i) * W);
          simd::hsum_rows(rows_).store_unaligned(yt + b0 + k);
        }
        for (; k < b1 - b0; ++k) yt[b0 + k] = xsimd::hadd(B::load_unaligned(acc.data() + k * W));
      }
    }
  }
  if (nt > 1) {
    std::fill(y, y + n, T(0));
    for (int t = 0; t < nt; ++t)
      for (long i = 0; i < n; ++i) y[i] += yparts[t * n + i];
  }
}

}  // namespace pianograd::kernels::cpu::modal_simd

#include "kernels/cpu/modal_simd_backward.h"
