// Harmonic stacking (Bittner et al. 2017, "Deep salience representations for F0 estimation"): channel s
// of the output holds the log-frequency spectrum shifted down by shift[s] bins, so that harmonic h of a
// note lines up with its fundamental across channels:
//   y[b, s, r, j] = x[b, r, j + shift[s]]   (0 where j + shift[s] falls outside [0, L))
// and its adjoint, the scatter-add back:
//   gx[b, r, i]   = sum_s gy[b, s, r, i - shift[s]]   (terms with i - shift[s] outside [0, L) dropped).
// One gather per output row (a memcpy of the in-range part and a zero fill of the rest) replaces the
// pad + S slices + stack the transcriber's front end built it from (three full copies, plus their
// gradients). Memory-bound; threaded over rows above kParallelGrain elements.
#pragma once

namespace pianograd::kernels::cpu {

// x [B, R, L], y [B, S, R, L], shift[S] (any sign; |shift| >= L gives an all-zero channel).
template <class T> void harmonic_stack_forward(const T* x, long B, long R, long L, const long* shift, long S, T* y);
// gy [B, S, R, L] -> gx [B, R, L] (overwritten).
template <class T>
void harmonic_stack_backward(const T* gy, long B, long R, long L, const long* shift, long S, T* gx);

namespace ref {  // element-by-element definitions, for the tests
template <class T> void harmonic_stack_forward(const T* x, long B, long R, long L, const long* shift, long S, T* y);
template <class T>
void harmonic_stack_backward(const T* gy, long B, long R, long L, const long* shift, long S, T* gx);
}  // namespace ref

}  // namespace pianograd::kernels::cpu
