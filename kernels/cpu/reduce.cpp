// Baseline-compiled dispatcher of the reduction kernels: inner == 1 goes to the active ISA's row
// kernels, inner > 1 to a strided path tiled over the inner dimension (its innermost loops walk
// contiguous memory, so they vectorise without per-ISA code). Both are threaded with OpenMP.
#include "kernels/cpu/reduce.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {
namespace {

// The scalar "ISA": the row interface over the references.
namespace scalar_rows {
template <class T> void sum_rows(const T* x, T* y, long rows, long n) { ref::reduce_sum(x, y, rows, n, 1L); }
template <class T> void max_rows(const T* x, T* y, long rows, long n, bool m) { ref::reduce_max(x, y, rows, n, 1L, m); }
template <class T> void logsumexp_rows(const T* x, T* y, long rows, long n) { ref::logsumexp(x, y, rows, n, 1L); }
template <class T> void softmax_rows(const T* x, T* y, long rows, long n, bool log) {
  ref::softmax(x, y, rows, n, 1L, log);
}
template <class T> void softmax_backward_rows(const T* y, const T* gy, T* gx, long rows, long n, bool log) {
  ref::softmax_backward(y, gy, gx, rows, n, 1L, log);
}
template <class T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps) {
  ref::layer_norm(x, w, b, y, mean, rstd, rows, n, eps);
}
// The row interface accumulates into gw/gb; the reference overwrites, so go through a buffer.
template <class T>
void layer_norm_backward_rows(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                              T* gb, long rows, long n) {
  std::vector<T> tw(gw ? static_cast<size_t>(n) : 0), tb(gb ? static_cast<size_t>(n) : 0);
  ref::layer_norm_backward(x, mean, rstd, w, gy, gx, gw ? tw.data() : nullptr, gb ? tb.data() : nullptr, rows, n);
  for (long i = 0; i < n; ++i) {
    if (gw) gw[i] += tw[static_cast<size_t>(i)];
    if (gb) gb[i] += tb[static_cast<size_t>(i)];
  }
}
}  // namespace scalar_rows

#define PG_PICK(fn)                                     \
  switch (active_isa()) {                               \
    case Isa::avx512: return &avx512::fn<T>;            \
    case Isa::avx2: return &avx2::fn<T>;                \
    case Isa::sse2: return &sse2::fn<T>;                \
    case Isa::scalar: break;                            \
  }                                                     \
  return &scalar_rows::fn<T>;

template <class T> auto pick_sum() { PG_PICK(sum_rows) }
template <class T> auto pick_max() { PG_PICK(max_rows) }
template <class T> auto pick_lse() { PG_PICK(logsumexp_rows) }
template <class T> auto pick_softmax() { PG_PICK(softmax_rows) }
template <class T> auto pick_softmax_bwd() { PG_PICK(softmax_backward_rows) }
template <class T> auto pick_ln() { PG_PICK(layer_norm_rows) }
template <class T> auto pick_ln_bwd() { PG_PICK(layer_norm_backward_rows) }
#undef PG_PICK

// Runs body(lo, hi) over [0, items) split into one contiguous chunk per thread, when the total work
// (items * work_per_item elements) is worth waking the thread pool for.
template <class F>
void parallel_items(long items, long work_per_item, F&& body) {
  if (items < 2 || items * work_per_item < kParallelGrain || omp_get_max_threads() == 1) {
    body(0L, items);
    return;
  }
#pragma omp parallel
  {
    const long nt = omp_get_num_threads(), t = omp_get_thread_num();
    const long chunk = (items + nt - 1) / nt;
    const long lo = std::min(items, t * chunk), hi = std::min(items, lo + chunk);
    if (hi > lo) body(lo, hi);
  }
}

// Strided path: work items are (outer index, tile of kTile inner positions); per-position running
// values live in small stack arrays.
constexpr long kTile = 256;

template <class F>
void strided_tiles(long outer, long n, long inner, F&& tile) {
  const long tiles = (inner + kTile - 1) / kTile;
  parallel_items(outer * tiles, n * std::min(inner, kTile), [&](long lo, long hi) {
    for (long w = lo; w < hi; ++w) {
      const long o = w / tiles, i0 = (w % tiles) * kTile;
      tile(o, i0, std::min(kTile, inner - i0));
    }
  });
}

// m[j] = max/min over k of x[k*inner + j] for one tile, NaN-propagating.
template <class T>
void tile_extremum(const T* x, long n, long inner, long len, bool is_min, T* m) {
  for (long j = 0; j < len; ++j) m[j] = x[j];
  for (long k = 1; k < n; ++k) {
    const T* r = x + k * inner;
    if (is_min) {
      for (long j = 0; j < len; ++j) m[j] = (r[j] < m[j] || r[j] != r[j]) && m[j] == m[j] ? r[j] : m[j];
    } else {
      for (long j = 0; j < len; ++j) m[j] = (r[j] > m[j] || r[j] != r[j]) && m[j] == m[j] ? r[j] : m[j];
    }
  }
}

}  // namespace

template <class T>
void reduce_sum(const T* x, T* y, long outer, long n, long inner) {
  if (inner == 1) {
    const auto fn = pick_sum<T>();
    parallel_items(outer, n, [&](long lo, long hi) { fn(x + lo * n, y + lo, hi - lo, n); });
    return;
  }
  strided_tiles(outer, n, inner, [&](long o, long i0, long len) {
    T acc[kTile] = {};
    for (long k = 0; k < n; ++k) {
      const T* r = x + (o * n + k) * inner + i0;
      for (long j = 0; j < len; ++j) acc[j] += r[j];
    }
    std::copy(acc, acc + len, y + o * inner + i0);
  });
}

template <class T>
void reduce_max(const T* x, T* y, long outer, long n, long inner, bool is_min) {
  if (n == 0) {  // no extremum exists: NaN rather than a read past the end
    std::fill(y, y + outer * inner, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  if (inner == 1) {
    const auto fn = pick_max<T>();
    parallel_items(outer, n, [&](long lo, long hi) { fn(x + lo * n, y + lo, hi - lo, n, is_min); });
    return;
  }
  strided_tiles(outer, n, inner, [&](long o, long i0, long len) {
    tile_extremum(x + o * n * inner + i0, n, inner, len, is_min, y + o * inner + i0);
  });
}

template <class T>
void reduce_arg(const T* x, T* y, int64_t* idx, long outer, long n, long inner, bool is_min) {
  reduce_max(x, y, outer, n, inner, is_min);
  if (n == 0) {
    std::fill(idx, idx + outer * inner, int64_t{-1});
    return;
  }
  // The first position equal to the extremum (or the first NaN): the tie rule of torch.argmax.
  parallel_items(outer * inner, n, [&](long lo, long hi) {
    for (long w = lo; w < hi; ++w) {
      const long o = w / inner, i = w % inner;
      const T m = y[w];
      const T* p = x + o * n * inner + i;
      long k = 0;
      while (k < n - 1 && !(p[k * inner] == m || (m != m && p[k * inner] != p[k * inner]))) ++k;
      idx[w] = k;
    }
  });
}

template <class T>
void logsumexp(const T* x, T* y, long outer, long n, long inner) {
  if (n == 0) {  // log of an empty sum
    std::fill(y, y + outer * inner, -std::numeric_limits<T>::infinity());
    return;
  }
  if (inner == 1) {
    const auto fn = pick_lse<T>();
    parallel_items(outer, n, [&](long lo, long hi) { fn(x + lo * n, y + lo, hi - lo, n); });
    return;
  }
  strided_tiles(outer, n, inner, [&](long o, long i0, long len) {
    const T* p = x + o * n * inner + i0;
    T m[kTile], s[kTile] = {};
    tile_extremum(p, n, inner, len, false, m);
    for (long k = 0; k < n; ++k)
      for (long j = 0; j < len; ++j) s[j] += std::exp(p[k * inner + j] - m[j]);
    for (long j = 0; j < len; ++j) y[o * inner + i0 + j] = std::isfinite(m[j]) ? m[j] + std::log(s[j]) : m[j];
  });
}

template <class T>
void softmax(const T* x, T* y, long outer, long n, long inner, bool log) {
  if (outer * n * inner == 0) return;
  if (inner == 1) {
    const auto fn = pick_softmax<T>();
    parallel_items(outer, n, [&](long lo, long hi) { fn(x + lo * n, y + lo * n, hi - lo, n, log); });
    return;
  }
  strided_tiles(outer, n, inner, [&](long o, long i0, long len) {
    const long base = o * n * inner + i0;
    T m[kTile], s[kTile] = {};
    tile_extremum(x + base, n, inner, len, false, m);
    for (long k = 0; k < n; ++k) {
      const T* r = x + base + k * inner;
      T* q = y + base + k * inner;
      for (long j = 0; j < len; ++j) {
        q[j] = std::exp(r[j] - m[j]);
        s[j] += q[j];
      }
    }
    for (long j = 0; j < len; ++j) s[j] = log ? std::log(s[j]) : T(1) / s[j];
    for (long k = 0; k < n; ++k) {
      const T* r = x + base + k * inner;
      T* q = y + base + k * inner;
      if (log) {
        for (long j = 0; j < len; ++j) q[j] = (r[j] - m[j]) - s[j];
      } else {
        for (long j = 0; j < len; ++j) q[j] *= s[j];
      }
    }
  });
}

template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, long outer, long n, long inner, bool log) {
  if (outer * n * inner == 0) return;
  if (inner == 1) {
    const auto fn = pick_softmax_bwd<T>();
    parallel_items(outer, n, [&](long lo, long hi) { fn(y + lo * n, gy + lo * n, gx + lo * n, hi - lo, n, log); });
    return;
  }
  strided_tiles(outer, n, inner, [&](long o, long i0, long len) {
    const long base = o * n * inner + i0;
    T s[kTile] = {};
    for (long k = 0; k < n; ++k) {
      const T* yr = y + base + k * inner;
      const T* gr = gy + base + k * inner;
      for (long j = 0; j < len; ++j) s[j] += log ? gr[j] : gr[j] * yr[j];
    }
    for (long k = 0; k < n; ++k) {
      const long r = base + k * inner;
      for (long j = 0; j < len; ++j)
        gx[r + j] = log ? gy[r + j] - std::exp(y[r + j]) * s[j] : y[r + j] * (gy[r + j] - s[j]);
    }
  });
}

template <class T>
void layer_norm(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps) {
  const auto fn = pick_ln<T>();
  parallel_items(rows, n, [&](long lo, long hi) {
    fn(x + lo * n, w, b, y + lo * n, mean + lo, rstd + lo, hi - lo, n, eps);
  });
}

template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                         T* gb, long rows, long n) {
  const auto fn = pick_ln_bwd<T>();
  const long nt = (rows < 2 || rows * n < kParallelGrain) ? 1 : std::min<long>(omp_get_max_threads(), rows);
  // Each thread accumulates gw/gb over its rows into its own slice; the slices are then summed in a
  // fixed order, so the result does not depend on scheduling.
  std::vector<T> part(static_cast<size_t>(nt > 1 ? 2 * nt * n : 0), T(0));
  if (nt == 1) {
    for (long i = 0; i < n; ++i) {
      if (gw) gw[i] = 0;
      if (gb) gb[i] = 0;
    }
    fn(x, mean, rstd, w, gy, gx, gw, gb, rows, n);
    return;
  }
  const long chunk = (rows + nt - 1) / nt;
#pragma omp parallel for num_threads(static_cast<int>(nt)) schedule(static, 1)
  for (long t = 0; t < nt; ++t) {
    const long lo = std::min(rows, t * chunk), hi = std::min(rows, lo + chunk);
    T* pw = part.data() + 2 * t * n;
    if (hi > lo)
      fn(x + lo * n, mean + lo, rstd + lo, w, gy + lo * n, gx + lo * n, gw ? pw : nullptr, gb ? pw + n : nullptr,
         hi - lo, n);
  }
  for (long i = 0; i < n; ++i) {
    T sw = 0, sb = 0;
    for (long t = 0; t < nt; ++t) {
      sw += part[static_cast<size_t>(2 * t * n + i)];
      sb += part[static_cast<size_t>(2 * t * n + n + i)];
    }
    if (gw) gw[i] = sw;
    if (gb) gb[i] = sb;
  }
}

#define PG_REDUCE_INST(T)                                                                             \
  template void reduce_sum<T>(const T*, T*, long, long, long);                                       \
  template void reduce_max<T>(const T*, T*, long, long, long, bool);                                 \
  template void reduce_arg<T>(const T*, T*, int64_t*, long, long, long, bool);                       \
  template void logsumexp<T>(const T*, T*, long, long, long);                                        \
  template void softmax<T>(const T*, T*, long, long, long, bool);                                    \
  template void softmax_backward<T>(const T*, const T*, T*, long, long, long, bool);                 \
  template void layer_norm<T>(const T*, const T*, const T*, T*, T*, T*, long, long, T);              \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, long, long);
PG_REDUCE_INST(float)
PG_REDUCE_INST(double)
#undef PG_REDUCE_INST

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(reduce_sum);
PG_CPU_KERNEL(reduce_max);
PG_CPU_KERNEL(reduce_arg);
PG_CPU_KERNEL(logsumexp);
PG_CPU_KERNEL(softmax);
PG_CPU_KERNEL(softmax_backward);
PG_CPU_KERNEL(layer_norm);
PG_CPU_KERNEL(layer_norm_backward);

}  // namespace pianograd::kernels::cpu
