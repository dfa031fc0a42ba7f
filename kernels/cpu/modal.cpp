// Baseline-compiled dispatcher of the modal bank: validation, the threshold, and the choice of ISA.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/modal.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu {

template <class T>
T modal_threshold(const ModalBank<T>& bank, double rel_threshold) {
  T amax = 0;
  for (long m = 0; m < bank.count; ++m) amax = std::max(amax, static_cast<T>(std::fabs(bank.amp[m])));
  return static_cast<T>(rel_threshold) * amax;
}

template <class T>
void modal_validate(const ModalBank<T>& bank, const T* gate, long rows, long n, const ModalOptions& opt) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("modal: " + what); };
  if (bank.count < 0 || n < 0 || rows < 0) fail("negative size (modes, rows or samples)");
  if (opt.checkpoint <= 0 || opt.checkpoint % kModalBlock != 0)
    fail("checkpoint interval must be a positive multiple of " + std::to_string(kModalBlock) + ", got " +
         std::to_string(opt.checkpoint));
  if (!(opt.rel_threshold >= 0)) fail("rel_threshold must be >= 0");
  if (rows > 0 && n > 0 && gate == nullptr) fail("gate is null with " + std::to_string(rows) + " rows");
  if (bank.count == 0) return;
  if (!bank.omega || !bank.sigma || !bank.dgain || !bank.amp || !bank.delta || !bank.start || !bank.env)
    fail("a per-mode input pointer is null");
  for (long m = 0; m < bank.count; ++m) {
    if (bank.start[m] < 0) fail("mode " + std::to_string(m) + ": start " + std::to_string(bank.start[m]) + " < 0");
    if (bank.env[m] < -1 || bank.env[m] >= rows)
      fail("mode " + std::to_string(m) + ": env row " + std::to_string(bank.env[m]) + " not in [-1, " +
           std::to_string(rows) + ")");
  }
}

template <class T>
void modal_forward(const ModalBank<T>& bank, const T* gate, long rows, long n, T* y, const ModalOptions& opt,
                   ModalTape<T>* tape) {
  modal_validate(bank, gate, rows, n, opt);
  switch (active_isa()) {
    case Isa::avx512: return avx512::modal_forward(bank, gate, rows, n, y, opt, tape);
    case Isa::avx2: return avx2::modal_forward(bank, gate, rows, n, y, opt, tape);
    case Isa::sse2: return sse2::modal_forward(bank, gate, rows, n, y, opt, tape);
    case Isa::scalar: break;
  }
  // The scalar path keeps no checkpoints; its backward recomputes everything.
  if (tape) *tape = ModalTape<T>{};
  ref::modal_forward(bank, gate, rows, n, y, opt);
}

template <class T>
void modal_backward(const ModalBank<T>& bank, const T* gate, long rows, long n, const T* gy,
                    const ModalGrads<T>& grads, const ModalOptions& opt, const ModalTape<T>* tape) {
  modal_validate(bank, gate, rows, n, opt);
  const Isa isa = active_isa();
  if (isa == Isa::scalar) return ref::modal_backward(bank, gate, rows, n, gy, grads, opt);
  ModalTape<T> own;
  const bool usable = tape && tape->samples == n && tape->checkpoint == opt.checkpoint &&
                      tape->end.size() == static_cast<size_t>(bank.count);
  if (!usable) {
    std::vector<T> scratch(static_cast<size_t>(n));
    modal_forward(bank, gate, rows, n, scratch.data(), opt, &own);
    tape = &own;
  }
  switch (isa) {
    case Isa::avx512: return avx512::modal_backward(bank, gate, rows, n, gy, grads, opt, *tape);
    case Isa::avx2: return avx2::modal_backward(bank, gate, rows, n, gy, grads, opt, *tape);
    default: return sse2::modal_backward(bank, gate, rows, n, gy, grads, opt, *tape);
  }
}

#define PG_MODAL_INST(T)                                                                              \
  template T modal_threshold<T>(const ModalBank<T>&, double);                                         \
  template void modal_validate<T>(const ModalBank<T>&, const T*, long, long, const ModalOptions&);    \
  template void modal_forward<T>(const ModalBank<T>&, const T*, long, long, T*, const ModalOptions&,  \
                                 ModalTape<T>*);                                                      \
  template void modal_backward<T>(const ModalBank<T>&, const T*, long, long, const T*,                \
                                  const ModalGrads<T>&, const ModalOptions&, const ModalTape<T>*);
PG_MODAL_INST(float)
PG_MODAL_INST(double)
#undef PG_MODAL_INST

// Covered by the conformance suite (kernels/cpu/conformance_*.cpp; kernel_registry.h).
PG_CPU_KERNEL(modal_forward);
PG_CPU_KERNEL(modal_backward);

}  // namespace pianograd::kernels::cpu
