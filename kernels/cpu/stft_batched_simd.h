// The xsimd body of the batched STFT (kernels/cpu/stft_batched.h), templated on the architecture and
// included only by the per-ISA translation units (xsimd 8.1 needs the ISA's flags on the whole TU).
//
// One group of L = batch<float, Arch>::size frames at a time, every buffer laid out [index][lane]:
//  1. window: z[j] = w[2j] x[2j] + i w[2j+1] x[2j+1] (j < m = n/2) per frame, written into that layout
//     (split re/im arrays): the real FFT of size n becomes a complex FFT of size m;
//  2. an in-place radix-4 decimation-in-time complex FFT of size m (plus one radix-2 stage when
//     log2 m is odd), its input permutation folded into step 1 and its innermost size-4 transforms
//     fused with the window (no bit-reversal pass, output in natural order), small stages blocked
//     to stay in L1; all vector operations on L frames;
//  3. the split step X[k] = E_k + W_n^k O_k with E_k = (Z_k + conj Z_{m-k})/2,
//     O_k = (Z_k - conj Z_{m-k})/(2i) (k = 0..m, Z_m = Z_0), then |X_k| and the per-frame outputs.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <complex>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/common/stft_math.h"
#include "kernels/cpu/stft_batched.h"
#include "kernels/cpu/stft_batched_intrin.h"

namespace pianograd::kernels::cpu::simd {

template <class Arch>
struct BatchedStft {
  using B = xsimd::batch<float, Arch>;
  static constexpr long L = static_cast<long>(B::size);

  static B ld(const float* p) { return B::load_aligned(p); }
  static void st(float* p, const B& v) { v.store_aligned(p); }

  struct C {  // L complex values, one per lane
    B r, i;
  };
  static C load(const float* re, const float* im) { return {ld(re), ld(im)}; }
  static void store(float* re, float* im, const C& v) {
    st(re, v.r);
    st(im, v.i);
  }
  static C mul(const C& a, const B& wr, const B& wi) {
    return {xsimd::fms(a.r, wr, a.i * wi), xsimd::fma(a.r, wi, a.i * wr)};
  }

  // The size-4 DFT, y_e = sum_c (-j)^{ce} u_c with j = sqrt(-1):
  // y0 = (a+c)+(b+d), y1 = (a-c) - j(b-d), y2 = (a+c)-(b+d), y3 = (a-c) + j(b-d).
  static void dft4(const C& a, const C& b, const C& c, const C& d, C* y) {
    const C apc{a.r + c.r, a.i + c.i}, amc{a.r - c.r, a.i - c.i}, bpd{b.r + d.r, b.i + d.i};
    const C jbmd{d.i - b.i, b.r - d.r};
    y[0] = {apc.r + bpd.r, apc.i + bpd.i};
    y[1] = {amc.r - jbmd.r, amc.i - jbmd.i};
    y[2] = {apc.r - bpd.r, apc.i - bpd.i};
    y[3] = {amc.r + jbmd.r, amc.i + jbmd.i};
  }

  // W_len^p, W_len^2p, W_len^3p of a stage of sub-length len = m/s are W_n^{2ps}, W_n^{4ps},
  // W_n^{6ps} in the plan's size-n table, broadcast to all lanes.
  static void twiddles(const StftBatchedPlan& plan, long ps, B* w) {
    const long k1 = 2 * ps;
    for (long e = 0; e < 3; ++e) {
      w[2 * e] = B(plan.wr[static_cast<size_t>((e + 1) * k1)]);
      w[2 * e + 1] = B(plan.wi[static_cast<size_t>((e + 1) * k1)]);
    }
  }

  // Frames bf0 .. bf0+count-1 as one contiguous pointer per lane: the signal itself for interior
  // frames, a reflect-padded copy in `scratch` (L+1 frames of n) at the edges, zeros past `count`.
  static void frame_sources(const float* x, const StftGeometry& g, long n, long bf0, long count, float* scratch,
                            const float** src) {
    const long frames = g.frames();
    for (long l = 0; l < L; ++l) {
      if (l >= count) {
        if (l == count) std::fill(scratch + L * n, scratch + (L + 1) * n, 0.0f);
        src[l] = scratch + L * n;
        continue;
      }
      const long bf = bf0 + l, b = bf / frames, f = bf % frames;
      const float* xb = x + b * g.length;
      const long start = f * g.hop - n / 2;
      if (start >= 0 && start + n <= g.length) {  // interior frame: no reflection
        src[l] = xb + start;
      } else {
        float* pad = scratch + l * n;
        for (long t = 0; t < n; ++t) {
          const long i = start + t;
          pad[t] = xb[i >= 0 && i < g.length ? i : stft_reflect(i, g.length)];  // modulo only outside
        }
        src[l] = pad;
      }
    }
  }

  // L windowed samples t0 .. t0+L-1 of every lane, transposed: r[j] = sample t0+j across the lanes.
  static void windowed_rows(const float* const* src, const float* w, long t0, B* r) {
    const B wv = B::load_unaligned(w + t0);
    for (long l = 0; l < L; ++l) r[l] = B::load_unaligned(src[l] + t0) * wv;
    transpose(r);
  }

  // Step 1 alone (small n, n/4 < L): z[j] = w x[2j] + i w x[2j+1], each at its input position for
  // the in-place FFT: input c of the size-4 transform at plan.blockpos[j mod m/4] (j = base + c m/4).
  [[gnu::noinline]] static void window(const float* const* src, const StftBatchedPlan& plan, float* re, float* im) {
    const long q4 = plan.n / 8;
    for (long t0 = 0; t0 < plan.n; t0 += L) {  // L divides n (both powers of two, n >= 16 >= L)
      B r[L];
      windowed_rows(src, plan.window.data(), t0, r);
      for (long j = 0; j < L; j += 2) {
        const long z = (t0 + j) >> 1, at = plan.blockpos[static_cast<size_t>(z % q4)] + z / q4;
        store(re + at * L, im + at * L, {r[j], r[j + 1]});
      }
    }
  }

  // Step 1 fused with the FFT's innermost stage: the size-4 transforms of z[j + c m/4], c < 4
  // (j < m/4), i.e. of samples 2j + c n/4, 2j+1 + c n/4: four transposed blocks, one per quarter of the
  // frame, give L/2 of them without writing the windowed frames out; each lands at plan.blockpos[j].
  // Needs L <= n/4.
  [[gnu::noinline]] static void window_dft4(const float* const* src, const StftBatchedPlan& plan, float* yr,
                                              float* yi) {
    const long quarter = plan.n / 4;
    const float* w = plan.window.data();
    for (long t0 = 0; t0 < quarter; t0 += L) {
      B r[4][L];
      for (long c = 0; c < 4; ++c) windowed_rows(src, w, c * quarter + t0, r[c]);
      for (long j = 0; j < L / 2; ++j) {
        C y[4];
        dft4({r[0][2 * j], r[0][2 * j + 1]}, {r[1][2 * j], r[1][2 * j + 1]}, {r[2][2 * j], r[2][2 * j + 1]},
             {r[3][2 * j], r[3][2 * j + 1]}, y);
        const long at = plan.blockpos[static_cast<size_t>(t0 / 2 + j)];
        for (long e = 0; e < 4; ++e) store(yr + (at + e) * L, yi + (at + e) * L, y[e]);
      }
    }
  }

  // One in-place radix-4 decimation-in-time stage over every block of `len` values in [0, total):
  // block quarter c holds the size-len/4 transform of the inputs c mod 4, so
  // X[p + e len/4] = sum_c W_4^{ce} (W_len^{cp} Y_c[p]), written back to the same four positions.
  // W_len^{cp} = W_m^{cp m/len}; p = 0 needs none.
  static void dit_stage(const StftBatchedPlan& plan, float* xr, float* xi, long total, long len) {
    const long q4 = len / 4, step = plan.n / 2 / len, d = q4 * L;
    for (long p = 0; p < q4; ++p) {
      B tw[6];
      if (p > 0) twiddles(plan, p * step, tw);
      for (long i = p * L; i < total * L; i += len * L) {
        const C a = load(xr + i, xi + i);
        C b = load(xr + i + d, xi + i + d), c = load(xr + i + 2 * d, xi + i + 2 * d);
        C e = load(xr + i + 3 * d, xi + i + 3 * d);
        if (p > 0) b = mul(b, tw[0], tw[1]), c = mul(c, tw[2], tw[3]), e = mul(e, tw[4], tw[5]);
        C y[4];
        dft4(a, b, c, e, y);
        for (long k = 0; k < 4; ++k) store(xr + i + k * d, xi + i + k * d, y[k]);
      }
    }
  }

  // Step 2: the complex FFT of size m in place, its innermost size-4 transforms done (fused = true)
  // or not; the result in natural order. Radix-4 stages of sub-length 16, 64, ... up to the largest
  // power of 4 dividing m, then, when log2 m is odd, one radix-2 stage joining the two halves (the
  // even and odd inputs). Stages whose blocks fit ~16 KB (block values x L lanes x 8 bytes) run
  // block by block, all of them while a block sits in L1; only the larger ones sweep the buffer
  // (2 m L floats: 64 KB for n = 2048 on 8 lanes, in L2).
  [[gnu::noinline]] static void fft(const StftBatchedPlan& plan, float* xr, float* xi, bool fused) {
    const long m = plan.n / 2, top = (m & 0x5555555555555555L) ? m : m / 2;  // largest power of 4 dividing m
    const long limit = std::min(top, 2048 / L);
    long len = fused ? 16 : 4;
    if (len <= limit) {
      long small = len;
      while (small * 4 <= limit) small *= 4;  // the largest stage done block by block
      for (long b = 0; b < m; b += small)
        for (long l = len; l <= small; l *= 4) dit_stage(plan, xr + b * L, xi + b * L, small, l);
      len = small * 4;
    }
    for (; len <= top; len *= 4) dit_stage(plan, xr, xi, m, len);
    if (top < m) {  // X[p] = E[p] + W_m^p O[p], X[p + m/2] = E[p] - W_m^p O[p]
      const long h = m / 2 * L;
      for (long p = 0; p < m / 2; ++p) {
        const long i = p * L;
        const C a = load(xr + i, xi + i);
        const C b = mul(load(xr + i + h, xi + i + h), B(plan.wr[static_cast<size_t>(2 * p)]),
                        B(plan.wi[static_cast<size_t>(2 * p)]));
        store(xr + i, xi + i, {a.r + b.r, a.i + b.i});
        store(xr + i + h, xi + i + h, {a.r - b.r, a.i - b.i});
      }
    }
  }

  // |z| = sqrt(p), p = re^2 + im^2, as p rsqrt(p) refined by one Newton step, r' = r (3 - p r^2)/2:
  // vsqrtps issues once per ~8 cycles on this core (one per bin of every group, ~10% of the
  // transform); the estimate's 2^-12 error squares to ~2e-7 relative, i.e. a few float ulps. p below
  // the smallest normal float (rsqrt treats it as 0 and returns inf) gives 0, an absolute error
  // under 1.1e-19; NaN stays NaN (the comparison is false for it).
  static B magnitude(const B& re, const B& im) {
    const B p = xsimd::fma(re, re, im * im);
    const B r = rsqrt_estimate(p);
    const B pr = p * r;
    const B m = pr * xsimd::fnma(pr * r, B(0.5f), B(1.5f));
    return xsimd::select(p < B(std::numeric_limits<float>::min()), B(0.0f), m);
  }

  // Step 3: bin k of the real spectrum for every lane, from the complex FFT Z of size m. (Computing
  // bins k and m-k from one evaluation halves this arithmetic but writes two regions of every frame
  // at once, one descending; measured 25% slower overall, the output stores being the bottleneck.)
  static C split_bin(const StftBatchedPlan& plan, const float* zr, const float* zi, long k) {
    const long m = plan.n / 2;
    const long ik = (k & (m - 1)) * L, jk = ((m - k) & (m - 1)) * L;  // Z_m = Z_0
    const B half(0.5f);
    const B ar = ld(zr + ik), ai = ld(zi + ik), br = ld(zr + jk), bi = ld(zi + jk);
    const B er = half * (ar + br), ei = half * (ai - bi);   // (Z_k + conj Z_{m-k}) / 2
    const B or_ = half * (ai + bi), oi = half * (br - ar);  // (Z_k - conj Z_{m-k}) / (2i)
    const B wr(plan.wr[static_cast<size_t>(k)]), wi(plan.wi[static_cast<size_t>(k)]);
    return {er + xsimd::fms(or_, wr, oi * wi), ei + xsimd::fma(or_, wi, oi * wr)};
  }

  // Split step, |X|, and the per-frame outputs: L bins at a time leave the lane layout through a
  // transpose (one contiguous store per frame and output); bins past the last full block (at least
  // Nyquist) go one lane at a time.
  // Magnitude rows hold the first ob bins (StftGeometry::out_bins); without spectra the bins past them are
  // not evaluated at all.
  [[gnu::noinline]] static void finish(const StftBatchedPlan& plan, const float* zr, const float* zi, long bf0,
                                       long count, long ob, float* mag, std::complex<float>* spec) {
    const long m = plan.n / 2, bins = m + 1;
    const long blocked = m >= L ? m : 0;  // L divides m when m >= L
    const long last = spec ? m : std::min(m, ob - 1);  // the highest bin needed
    for (long k0 = 0; k0 < blocked && k0 <= last; k0 += L) {
      B mr[L], rr[L], ir[L];
      for (long j = 0; j < L; ++j) {
        const C x = split_bin(plan, zr, zi, k0 + j);
        rr[j] = x.r, ir[j] = x.i, mr[j] = magnitude(x.r, x.i);
      }
      if (k0 < ob) {
        transpose(mr);
        if (k0 + L <= ob) {
          for (long l = 0; l < count; ++l) mr[l].store_unaligned(mag + (bf0 + l) * ob + k0);
        } else {  // the block straddles the end of the rows
          alignas(64) float tmp[L];
          for (long l = 0; l < count; ++l) {
            mr[l].store_aligned(tmp);
            std::copy(tmp, tmp + (ob - k0), mag + (bf0 + l) * ob + k0);
          }
        }
      }
      if (!spec) continue;
      transpose(rr);
      transpose(ir);
      for (long l = 0; l < count; ++l) {
        B lo, hi;
        interleave(rr[l], ir[l], lo, hi);
        // std::complex<float> is an array of two floats ([complex.numbers.general]).
        float* s = reinterpret_cast<float*>(spec + (bf0 + l) * bins + k0);
        lo.store_unaligned(s);
        hi.store_unaligned(s + L);
      }
    }
    alignas(64) float out_m[L], out_r[L], out_i[L];
    for (long k = blocked; k <= last; ++k) {
      const C x = split_bin(plan, zr, zi, k);
      st(out_m, magnitude(x.r, x.i));
      if (k < ob)
        for (long l = 0; l < count; ++l) mag[(bf0 + l) * ob + k] = out_m[l];
      if (spec) {
        st(out_r, x.r);
        st(out_i, x.i);
        for (long l = 0; l < count; ++l) spec[(bf0 + l) * bins + k] = std::complex<float>(out_r[l], out_i[l]);
      }
    }
  }

  static void group(const float* x, long batch, const StftGeometry& g, const StftBatchedPlan& plan, long bf0,
                    float* mag, std::complex<float>* spec) {
    const long n = plan.n, m = n / 2, count = std::min(L, batch * g.frames() - bf0);
    // One [m][L] re/im pair and L+1 padded frames; per thread and per ISA, grown to the largest n seen.
    thread_local std::vector<float, xsimd::aligned_allocator<float, 64>> buf;
    const size_t need = static_cast<size_t>(2 * m * L + (L + 1) * n);
    if (buf.size() < need) buf.resize(need);
    float *zr = buf.data(), *zi = zr + m * L;
    const float* src[L];
    frame_sources(x, g, n, bf0, count, zi + m * L, src);
    if (L <= n / 4) {
      window_dft4(src, plan, zr, zi);
      fft(plan, zr, zi, true);
    } else {
      window(src, plan, zr, zi);
      fft(plan, zr, zi, false);
    }
    finish(plan, zr, zi, bf0, count, g.out_bins(), mag, spec);
  }
};

}  // namespace pianograd::kernels::cpu::simd

// Defines the ISA namespace's entry points over the templated body for one architecture.
#define PG_STFT_BATCHED_ISA_DEFINE(ns, Arch)                                                        \
  namespace pianograd::kernels::cpu::ns {                                                           \
  long stft_lanes() { return simd::BatchedStft<Arch>::L; }                                          \
  void stft_group(const float* x, long batch, const StftGeometry& g, const StftBatchedPlan& plan, long bf0, \
                  float* mag, std::complex<float>* spec) {                                          \
    simd::BatchedStft<Arch>::group(x, batch, g, plan, bf0, mag, spec);                              \
  }                                                                                                 \
  }
