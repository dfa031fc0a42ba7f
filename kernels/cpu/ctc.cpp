// The CTC forward-backward (kernels/cpu/ctc.h). Notation: l' the extended labels (L = 2S + 1, blanks at
// even s), lp(t, c) = log_softmax(x_t)[c], a(t, s) = ln of the probability of every path prefix ending in
// state s at frame t, emission at t included; b(t, s) = ln of the probability of every path suffix after
// frame t given state s at t (emissions t+1.. only). Then a(t, s) + b(t, s) - ln Z is the log posterior
// of (t, s), its sum over s is 1 for every t, and gamma(t, c) is that posterior summed over {s : l'_s = c}.
//
// Window: state s is reachable at frame t only if s < 2(t + 1), and can still reach one of the two final
// states only if s >= L - 2(len - t); outside both, a state's share of Z is zero, so the recursions
// leave it at -inf without computing it (this is what keeps the work near len * L, not len * L * 2).
#include "kernels/cpu/ctc.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/cpu/isa.h"

namespace pianograd::kernels::cpu {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double lse(double a, double b) { return log_add(a, b); }
// ln(e^a + e^b + e^c), shifted by the maximum as log_add is.
inline double lse(double a, double b, double c) {
  // The maximum's own term is e^0 = 1: two exponentials instead of three.
  if (b > a) std::swap(a, b);
  if (c > a) std::swap(a, c);
  if (a == kNegInf) return kNegInf;
  return a + std::log1p(std::exp(b - a) + std::exp(c - a));
}

// Per-thread buffers, grown once and reused across the sequences a thread takes.
struct Scratch {
  std::vector<int64_t> ext;          // l' [L]
  std::vector<double> lse_t;         // ln sum_c e^{x(t, c)} [len]
  std::vector<double> lpe;           // lp(t, l'_s) [len, L]
  std::vector<double> alpha;         // a [len, L]
  std::vector<double> beta, beta_prev;  // b(t, .), b(t - 1, .) [L]
  std::vector<double> occ;           // gamma(t, .) [C]
};

// One sequence: returns -ln Z; writes softmax - gamma into g [T, C] rows t < len when g is given.
template <class T>
double ctc_one(const T* x, const int64_t* tgt, long len, long slen, long C, int64_t blank, T* g, Scratch& w) {
  const long L = 2 * slen + 1;
  if (len == 0) return slen == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  if (ctc_min_frames(tgt, slen) > len) return std::numeric_limits<double>::infinity();
  w.ext.resize(size_t(L));
  for (long s = 0; s < L; ++s) w.ext[size_t(s)] = s % 2 ? tgt[s / 2] : blank;
  const int64_t* ext = w.ext.data();
  // A skip s-2 -> s is allowed into a label that differs from the one two states back (never into a blank:
  // both sides of a skip have the same parity, so one blank test covers both).
  auto skip_into = [ext, blank](long s) { return s >= 2 && ext[s] != blank && ext[s] != ext[s - 2]; };

  w.lse_t.resize(size_t(len));
  w.lpe.resize(size_t(len * L));
  for (long t = 0; t < len; ++t) {
    const T* xt = x + t * C;
    double m = kNegInf;
    for (long c = 0; c < C; ++c) m = std::max(m, double(xt[c]));
    double sum = 0;
    for (long c = 0; c < C; ++c) sum += std::exp(double(xt[c]) - m);
    const double z = m + std::log(sum);
    w.lse_t[size_t(t)] = z;
    double* lp = w.lpe.data() + t * L;
    for (long s = 0; s < L; ++s) lp[s] = double(xt[ext[s]]) - z;
  }
  auto lo = [&](long t) { return std::max(0L, L - 2 * (len - t)); };
  auto hi = [&](long t) { return std::min(L, 2 * (t + 1)); };

  w.alpha.assign(size_t(len * L), kNegInf);
  double* a = w.alpha.data();
  const double* lpe = w.lpe.data();
  for (long s = lo(0); s < hi(0); ++s) a[s] = lpe[s];
  for (long t = 1; t < len; ++t) {
    const double* ap = a + (t - 1) * L;
    double* at = a + t * L;
    const double* lp = lpe + t * L;
    for (long s = lo(t); s < hi(t); ++s) {
      const double stay = ap[s], step = s >= 1 ? ap[s - 1] : kNegInf;
      at[s] = (skip_into(s) ? lse(stay, step, ap[s - 2]) : lse(stay, step)) + lp[s];
    }
  }
  const double* alast = a + (len - 1) * L;
  const double log_z = L >= 2 ? lse(alast[L - 1], alast[L - 2]) : alast[0];
  if (log_z == kNegInf) return std::numeric_limits<double>::infinity();
  if (!g) return -log_z;

  w.beta.assign(size_t(L), kNegInf);
  w.beta_prev.assign(size_t(L), kNegInf);
  w.occ.assign(size_t(C), 0.0);
  double* b = w.beta.data();
  b[L - 1] = 0;
  if (L >= 2) b[L - 2] = 0;
  for (long t = len - 1; t >= 0; --t) {
    const double* at = a + t * L;
    double* occ = w.occ.data();
    std::fill(occ, occ + C, 0.0);
    for (long s = lo(t); s < hi(t); ++s) {
      const double v = at[s] + b[s] - log_z;
      if (v > kNegInf) occ[ext[s]] += std::exp(v);
    }
    const T* xt = x + t * C;
    T* gt = g + t * C;
    const double z = w.lse_t[size_t(t)];
    for (long c = 0; c < C; ++c) gt[c] = T(std::exp(double(xt[c]) - z) - occ[c]);
    if (t == 0) break;
    // b(t-1, s) = ln sum over the successors s' of s of e^{b(t, s') + lp(t, s')}.
    const double* lp = lpe + t * L;
    double* bp = w.beta_prev.data();
    std::fill(bp, bp + L, kNegInf);
    for (long s = lo(t - 1); s < hi(t - 1); ++s) {
      const double stay = b[s] + lp[s], step = s + 1 < L ? b[s + 1] + lp[s + 1] : kNegInf;
      bp[s] = s + 2 < L && skip_into(s + 2) ? lse(stay, step, b[s + 2] + lp[s + 2]) : lse(stay, step);
    }
    std::swap(w.beta, w.beta_prev);
    b = w.beta.data();
  }
  return -log_z;
}

}  // namespace

long ctc_min_frames(const int64_t* target, long len) {
  long n = len;
  for (long i = 1; i < len; ++i) n += target[i] == target[i - 1];
  return n;
}

template <class T>
void ctc_loss(const T* logits, const int64_t* targets, const int64_t* input_lengths, const int64_t* target_lengths,
              const CtcSizes& n, double* nll, T* grad) {
  const long B = n.batch, TC = n.time * n.classes;
  long work = 0;
  for (long b = 0; b < B; ++b) work += long(input_lengths[b]) * (2 * long(target_lengths[b]) + 1 + n.classes);
  const bool threads = B > 1 && work >= kParallelGrain && omp_get_max_threads() > 1;
#pragma omp parallel if (threads)
  {
    Scratch w;
    // Sequences differ in length, so hand them out one at a time; each b is computed wholly by one thread,
    // which keeps the results independent of the thread count.
#pragma omp for schedule(dynamic, 1)
    for (long b = 0; b < B; ++b) {
      const long len = long(input_lengths[b]);
      T* g = grad ? grad + b * TC : nullptr;
      if (g) std::fill(g, g + TC, T(0));
      const double v = ctc_one<T>(logits + b * TC, targets + b * n.max_target, len, long(target_lengths[b]),
                                  n.classes, n.blank, g, w);
      // An infeasible target (+inf) returns before writing g: no finite gradient exists, its rows stay 0.
      nll[b] = v;
    }
  }
}

template void ctc_loss<float>(const float*, const int64_t*, const int64_t*, const int64_t*, const CtcSizes&, double*,
                              float*);
template void ctc_loss<double>(const double*, const int64_t*, const int64_t*, const int64_t*, const CtcSizes&, double*,
                               double*);

}  // namespace pianograd::kernels::cpu
