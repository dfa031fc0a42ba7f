// Internal to the direct-convolution drivers (conv_direct.cpp, conv_direct_backward.cpp): the flattened
// padded-plane geometry of one image (see conv_direct.h), the per-thread scratch, the padded / edge copies
// and the batch loop. Not a public header.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/im2col.h"

namespace pianograd::kernels::cpu::cd_detail {

// The kernel spans the whole unpadded width: one output per row (the transcriber's [1 x 3] readout
// over [.., F*88, 3]). Handled by transposing each channel's [H, KW] rows to [KW, H] (a cheap im2col)
// and a 1-tap direct pass over the C*KW rows; the strided wide-row trick would discard 2 of 3 columns.
inline bool full_width(const ConvGeom& g) {
  return g.KH == 1 && g.ph == 0 && g.pw == 0 && g.dw == 1 && g.KW == g.W && g.KW > 1;
}

// Flattened padded-plane geometry of one image.
struct Plan {
  long Hp, Wp, xs, L, ntaps, maxoff;
  bool padded, wide;  // wide: output rows carry (KW-1)*dw discarded columns (KW > 1)
  std::vector<long> off;
  explicit Plan(const ConvGeom& g)
      : Hp(g.H + 2 * g.ph), Wp(g.W + 2 * g.pw), xs(Hp * Wp), L((g.OH - 1) * Wp + g.OW), ntaps(g.KH * g.KW),
        maxoff(0), padded(g.ph > 0 || g.pw > 0), wide(Wp != g.OW) {
    off.resize(static_cast<size_t>(ntaps));
    for (long kh = 0; kh < g.KH; ++kh)
      for (long kw = 0; kw < g.KW; ++kw) off[static_cast<size_t>(kh * g.KW + kw)] = kh * g.dh * Wp + kw * g.dw;
    maxoff = off.back();
    P = g.ph * Wp;
    rows_only = padded && g.pw == 0 && !wide && P <= maxoff && L >= 2 * P && L >= maxoff;
  }
  // Padding along H only (the transcriber's [k x 1] time convs): the padded plane is the unpadded one
  // with P = ph*W zeros before and after, so every output p in [P, L - P) reads x in place (shifted by
  // P); only the first and last P outputs, whose taps reach into the zeros, need padded copies, of
  // maxoff + P elements per channel (pad_image copies all of it, and that copy cost 4% of a step).
  long P = 0;
  bool rows_only = false;
};

// The two edge strips of the padded plane of one image, for a rows_only plan: rows [0, P + maxoff) and
// [L - P, xs) of every channel, each C x (P + maxoff), in one scratch buffer (left strips first).
// Channels c >= c1 come from x2 when it is given (a conv over the channel concatenation [x | x2]).
template <class T>
T* edge_strips(const T* x, const ConvGeom& g, const Plan& pl, T* buf, const T* x2 = nullptr, long c1 = 0) {
  const long len = pl.P + pl.maxoff, hw = g.H * g.W;
  for (long c = 0; c < g.C; ++c) {
    T* left = buf + c * len;
    T* right = buf + (g.C + c) * len;
    const T* xc = x2 && c >= c1 ? x2 + (c - c1) * hw : x + c * hw;
    std::fill(left, left + pl.P, T(0));
    std::memcpy(left + pl.P, xc, sizeof(T) * pl.maxoff);
    std::memcpy(right, xc + hw - pl.maxoff, sizeof(T) * pl.maxoff);
    std::fill(right + pl.maxoff, right + len, T(0));
  }
  return buf;
}

// Per-thread scratch that survives across calls (OpenMP threads persist), so a training loop does not
// re-fault fresh pages for its padded planes every step. Slots: 0 and 1 the drivers' planes, 2 the ReLU
// backward's masked gradient.
template <class T>
T* scratch(int slot, size_t n) {
  thread_local std::vector<unsigned char> bufs[3];
  auto& b = bufs[slot];
  if (b.size() < n * sizeof(T) + 64) b.resize(n * sizeof(T) + 64);
  return reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(b.data()) + 63) & ~uintptr_t{63});
}

// Zero-padded copy of one image x[C,H,W] into xp[C,Hp,Wp]. Only the margins are zeroed (the top/bottom
// pad rows and each row's pw columns either side), not the whole plane before the interior overwrites it.
template <class T>
void pad_image(const T* x, const ConvGeom& g, const Plan& pl, T* xp) {
  const long top = g.ph * pl.Wp;
  for (long c = 0; c < g.C; ++c) {
    T* xc = xp + c * pl.xs;
    std::fill(xc, xc + top + g.pw, T(0));
    for (long h = 0; h < g.H; ++h) {
      T* row = xc + (h + g.ph) * pl.Wp + g.pw;
      std::memcpy(row, x + (c * g.H + h) * g.W, sizeof(T) * g.W);
      // the right margin of this row and the left margin of the next one are adjacent
      std::fill(row + g.W, std::min(row + g.W + 2 * g.pw, xc + pl.xs), T(0));
    }
    if (g.ph > 0) std::fill(xc + (g.H + g.ph) * pl.Wp + g.pw, xc + pl.xs, T(0));
  }
}

template <class F>
void over_batch(long N, F&& body) {
  if (N <= 1 || omp_in_parallel() || omp_get_max_threads() == 1) {
    for (long n = 0; n < N; ++n) body(n, 0);
    return;
  }
#pragma omp parallel for schedule(static)
  for (long n = 0; n < N; ++n) body(n, omp_get_thread_num());
}

inline int batch_threads(long N) { return (N <= 1 || omp_in_parallel()) ? 1 : std::max(1, omp_get_max_threads()); }

// Full-width case: x[C, H, KW] <-> cols[C*KW, H]. The K = C*KW rows of cols are passed to the row
// kernels as the K taps of ONE row (tap k at offset k*H): same sums, but the weight kernel then blocks
// 4 channels x 3 taps instead of running a latency-bound 4 x 1 block.
inline std::vector<long> row_offsets(long K, long H) {
  std::vector<long> off(static_cast<size_t>(K));
  for (long k = 0; k < K; ++k) off[static_cast<size_t>(k)] = k * H;
  return off;
}

template <class T>
void rows_to_cols(const T* x, long C, long H, long KW, T* cols) {
  for (long c = 0; c < C; ++c)
    for (long h = 0; h < H; ++h)
      for (long k = 0; k < KW; ++k) cols[(c * KW + k) * H + h] = x[(c * H + h) * KW + k];
}
template <class T>
void cols_to_rows(const T* cols, long C, long H, long KW, T* x) {
  for (long c = 0; c < C; ++c)
    for (long h = 0; h < H; ++h)
      for (long k = 0; k < KW; ++k) x[(c * H + h) * KW + k] = cols[(c * KW + k) * H + h];
}

}  // namespace pianograd::kernels::cpu::cd_detail
