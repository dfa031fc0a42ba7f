// The roll gate kernels (kernels/cuda/roll_gate.h) in a CPU-only build: they link and throw if reached.
#include <stdexcept>

#include "kernels/cuda/roll_gate.h"

namespace pianograd::kernels::cuda {
namespace {
[[noreturn]] void unavailable() { throw std::runtime_error("CUDA not available in this build (roll gates)"); }
}  // namespace

template <class T>
void roll_gate_fill(const std::int64_t*, long, const T*, const RollGateGeom&, long, T*, void*) {
  unavailable();
}
template <class T>
void roll_gate_reduce(const std::int64_t*, long, long, long, const T*, const RollGateGeom&, long, double*, void*) {
  unavailable();
}

template void roll_gate_fill<float>(const std::int64_t*, long, const float*, const RollGateGeom&, long, float*, void*);
template void roll_gate_fill<double>(const std::int64_t*, long, const double*, const RollGateGeom&, long, double*, void*);
template void roll_gate_reduce<float>(const std::int64_t*, long, long, long, const float*, const RollGateGeom&, long,
                                      double*, void*);
template void roll_gate_reduce<double>(const std::int64_t*, long, long, long, const double*, const RollGateGeom&, long,
                                       double*, void*);

}  // namespace pianograd::kernels::cuda
