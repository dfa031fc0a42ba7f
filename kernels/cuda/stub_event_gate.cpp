// The event renderer's compact-gate kernels (kernels/cuda/event_gate.h) in a CPU-only build: they link and
// throw if ever reached (the renderer only calls them for controls on a CUDA device, which such a build
// refuses earlier).
#include <stdexcept>

#include "kernels/cuda/event_gate.h"

namespace pianograd::kernels::cuda {
namespace {
[[noreturn]] void unavailable() { throw std::runtime_error("CUDA not available in this build (event gates)"); }
}  // namespace

template <class T>
void event_gate_fill(const EventGateRowsDev&, T*, void*) {
  unavailable();
}
template <class T>
void event_gate_reduce(const EventGateRowsDev&, const T*, double*, double*, void*) {
  unavailable();
}

template void event_gate_fill<float>(const EventGateRowsDev&, float*, void*);
template void event_gate_fill<double>(const EventGateRowsDev&, double*, void*);
template void event_gate_reduce<float>(const EventGateRowsDev&, const float*, double*, double*, void*);
template void event_gate_reduce<double>(const EventGateRowsDev&, const double*, double*, double*, void*);

}  // namespace pianograd::kernels::cuda
