// Harmonic stacking gather / scatter-add (see harmonic_stack.h). Plain copies and adds over contiguous
// row ranges: the compiler vectorises the add loop at the baseline ISA, and the copies are memcpy, so
// there is nothing for per-ISA xsimd bodies to gain.
#include "kernels/cpu/harmonic_stack.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

namespace {
// The in-range output columns [lo, hi) of a channel shifted by s: j with 0 <= j + s < L.
inline void valid_range(long s, long L, long& lo, long& hi) {
  lo = std::clamp(-s, 0L, L);
  hi = std::clamp(L - s, lo, L);
}
}  // namespace

template <class T>
void harmonic_stack_forward(const T* x, long B, long R, long L, const long* shift, long S, T* y) {
  const long rows = B * S * R;  // output row (b, s, r)
#pragma omp parallel for schedule(static) if (rows * L > kParallelGrain)
  for (long q = 0; q < rows; ++q) {
    const long r = q % R, s = (q / R) % S, b = q / (R * S);
    long lo, hi;
    valid_range(shift[s], L, lo, hi);
    T* yr = y + q * L;
    const T* xr = x + (b * R + r) * L;
    std::fill(yr, yr + lo, T(0));
    if (hi > lo) std::memcpy(yr + lo, xr + lo + shift[s], sizeof(T) * static_cast<size_t>(hi - lo));
    std::fill(yr + hi, yr + L, T(0));
  }
}

template <class T>
void harmonic_stack_backward(const T* gy, long B, long R, long L, const long* shift, long S, T* gx) {
  const long rows = B * R;  // input row (b, r), written by one thread: no races
#pragma omp parallel for schedule(static) if (rows * L * S > kParallelGrain)
  for (long q = 0; q < rows; ++q) {
    const long b = q / R, r = q % R;
    T* g = gx + q * L;
    std::fill(g, g + L, T(0));
    for (long s = 0; s < S; ++s) {
      long lo, hi;
      valid_range(shift[s], L, lo, hi);
      const T* src = gy + ((b * S + s) * R + r) * L;  // gy row; column j feeds gx column j + shift
      T* dst = g + shift[s];
      for (long j = lo; j < hi; ++j) dst[j] += src[j];
    }
  }
}

namespace ref {
template <class T>
void harmonic_stack_forward(const T* x, long B, long R, long L, const long* shift, long S, T* y) {
  for (long b = 0; b < B; ++b)
    for (long s = 0; s < S; ++s)
      for (long r = 0; r < R; ++r)
        for (long j = 0; j < L; ++j) {
          const long i = j + shift[s];
          y[((b * S + s) * R + r) * L + j] = (i >= 0 && i < L) ? x[(b * R + r) * L + i] : T(0);
        }
}

template <class T>
void harmonic_stack_backward(const T* gy, long B, long R, long L, const long* shift, long S, T* gx) {
  for (long b = 0; b < B; ++b)
    for (long r = 0; r < R; ++r)
      for (long i = 0; i < L; ++i) {
        T acc = T(0);
        for (long s = 0; s < S; ++s) {
          const long j = i - shift[s];
          if (j >= 0 && j < L) acc += gy[((b * S + s) * R + r) * L + j];
        }
        gx[(b * R + r) * L + i] = acc;
      }
}
}  // namespace ref

#define PG_HARMONIC_STACK_INST(T)                                                                    \
  template void harmonic_stack_forward<T>(const T*, long, long, long, const long*, long, T*);        \
  template void harmonic_stack_backward<T>(const T*, long, long, long, const long*, long, T*);       \
  template void ref::harmonic_stack_forward<T>(const T*, long, long, long, const long*, long, T*);   \
  template void ref::harmonic_stack_backward<T>(const T*, long, long, long, const long*, long, T*);
PG_HARMONIC_STACK_INST(float)
PG_HARMONIC_STACK_INST(double)
#undef PG_HARMONIC_STACK_INST

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(harmonic_stack_forward);
PG_CPU_KERNEL(harmonic_stack_backward);

}  // namespace pianograd::kernels::cpu
