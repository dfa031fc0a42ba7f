// The modal bank: the compute core of the differentiable piano (DESIGN.md §4), forward and adjoint.
//
// M modes; mode m has a pole omega_m (rad/sample, 0 < omega < pi), a decay sigma_m (per sample,
// >= 0), a damper gain dgain_m (extra decay per sample per unit of gate), an amplitude amp_m, an
// integer start sample start_m >= 0, a fractional delay delta_m in [0, 1) (the true onset is
// start_m - delta_m, which makes the onset time differentiable) and the row env_m of the damper-gate
// envelope that governs it (-1: never damped). The gates d[e][n] (E rows x N samples, in [0, 1])
// are 0 while key or pedal holds and rise to 1 after release.
//
//   z_m[start] = amp * exp((-sigma + i omega) delta)
//   z_m[n]     = exp(-sigma - dgain d[env][n] + i omega) z_m[n-1]      for n > start
//   y[n]       = sum_m Im z_m[n]        (Im: the string starts at rest, so there is no click)
//
// Truncation ("inaudible modes cost nothing"): with thr = rel_threshold * max_m |amp_m|, a mode with
// |z[start]| < thr (amp = 0 included) is skipped; otherwise it ends at L, the first multiple of
// kModalBlock after start at which |z[L]| < thr, and contributes nothing from L on. The backward
// treats L as a constant (the tail past L has zero gradient), so forward and backward agree exactly.
//
// Backward: given gy = dLoss/dy, the gradients to every per-mode input and to the gates, by the
// adjoint recurrence run backward in time (derivation in kernels/common/modal_math.h). The fast
// kernels store z every `checkpoint` samples in a ModalTape during the forward and recompute each
// segment into a small buffer during the backward: memory O(M N / C + M C), not O(M N).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/common/modal_math.h"

namespace pianograd::kernels::cpu {

template <class T>
struct ModalBank {
  long count = 0;                       // M
  const T* omega = nullptr;
  const T* sigma = nullptr;
  const T* dgain = nullptr;
  const T* amp = nullptr;
  const T* delta = nullptr;
  const std::int64_t* start = nullptr;  // >= 0; a start >= N is a silent mode
  const std::int32_t* env = nullptr;    // in [-1, rows)
};

struct ModalOptions {
  double rel_threshold = 1e-5;  // -100 dB below the loudest mode; 0 disables truncation
  long checkpoint = 256;        // C, a positive multiple of kModalBlock
};

// Gradient outputs, each overwritten; a null pointer is not computed (gate: rows x N).
template <class T>
struct ModalGrads {
  T* omega = nullptr;
  T* sigma = nullptr;
  T* dgain = nullptr;
  T* amp = nullptr;
  T* delta = nullptr;
  T* gate = nullptr;
  // Optional, rows x ceil(n / kModalBlock): 0 where the caller needs no gate gradient in that row's
  // block of kModalBlock samples (e.g. a held key, whose gate's own derivative is 0 there). Entries
  // there are unspecified (0, or the gradient where modes of a wanted row share the block's work);
  // the kernel skips the per-sample gate work of groups with no wanted row. Null: wanted everywhere.
  const unsigned char* gate_blocks = nullptr;
};

// What the forward saves for the backward: z at every multiple of the checkpoint interval per mode
// (index (m * checkpoints + k) * 2 + {0: re, 1: im}; 0 before start and after the end) and each
// mode's end L (start for a skipped mode).
template <class T>
struct ModalTape {
  long samples = 0, checkpoint = 0, checkpoints = 0;
  T threshold = 0;
  std::vector<T> z;
  std::vector<std::int64_t> end;
};

// Dispatched by ISA and threaded with OpenMP over groups of modes (deterministic for a fixed thread
// count). y has n samples and is overwritten. gate may be null when rows == 0. Throws
// std::invalid_argument on a bad start, env row or checkpoint interval.
template <class T>
void modal_forward(const ModalBank<T>& bank, const T* gate, long rows, long n, T* y,
                   const ModalOptions& opt = {}, ModalTape<T>* tape = nullptr);
// With tape == nullptr the checkpoints are recomputed by a forward sweep first. A tape must come
// from modal_forward with the same inputs and options.
template <class T>
void modal_backward(const ModalBank<T>& bank, const T* gate, long rows, long n, const T* gy,
                    const ModalGrads<T>& grads, const ModalOptions& opt = {},
                    const ModalTape<T>* tape = nullptr);

// The absolute threshold rel_threshold * max |amp| (shared so every implementation truncates alike).
template <class T>
T modal_threshold(const ModalBank<T>& bank, double rel_threshold);
// Throws std::invalid_argument naming the problem.
template <class T>
void modal_validate(const ModalBank<T>& bank, const T* gate, long rows, long n, const ModalOptions& opt);

// The scalar references: one mode at a time, all states stored, used by tests and benchmarks.
namespace ref {
template <class T>
void modal_forward(const ModalBank<T>& bank, const T* gate, long rows, long n, T* y,
                   const ModalOptions& opt = {});
template <class T>
void modal_backward(const ModalBank<T>& bank, const T* gate, long rows, long n, const T* gy,
                    const ModalGrads<T>& grads, const ModalOptions& opt = {});
}  // namespace ref

// One namespace per ISA translation unit (modal_<isa>.cpp); inputs validated by the dispatcher.
#define PG_MODAL_ISA_DECL(ns)                                                                     \
  namespace ns {                                                                                  \
  template <class T>                                                                              \
  void modal_forward(const ModalBank<T>& bank, const T* gate, long rows, long n, T* y,            \
                     const ModalOptions& opt, ModalTape<T>* tape);                                \
  template <class T>                                                                              \
  void modal_backward(const ModalBank<T>& bank, const T* gate, long rows, long n, const T* gy,    \
                      const ModalGrads<T>& grads, const ModalOptions& opt, const ModalTape<T>& tape); \
  }
PG_MODAL_ISA_DECL(sse2)
PG_MODAL_ISA_DECL(avx2)
PG_MODAL_ISA_DECL(avx512)
#undef PG_MODAL_ISA_DECL

}  // namespace pianograd::kernels::cpu
