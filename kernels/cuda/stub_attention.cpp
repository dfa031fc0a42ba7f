// The fused attention's CUDA kernels (kernels/cuda/attention.h) in a CPU-only build: they link and
// throw if reached (the op routes only CUDA tensors here, and a CPU-only build has none).
#include <stdexcept>

#include "kernels/cuda/attention.h"

namespace pianograd::kernels::cuda {
namespace {
[[noreturn]] void unavailable() { throw std::runtime_error("CUDA not available in this build (attention)"); }
}  // namespace

template <class T>
void attention_forward(const T*, const T*, const T*, T*, T*, long, long, long, long, bool, T, void*) {
  unavailable();
}
template <class T>
void attention_backward(const T*, const T*, const T*, const T*, const T*, const T*, T*, T*, T*, long, long, long, long,
                        bool, T, void*) {
  unavailable();
}

template void attention_forward<float>(const float*, const float*, const float*, float*, float*, long, long, long, long,
                                       bool, float, void*);
template void attention_forward<double>(const double*, const double*, const double*, double*, double*, long, long, long,
                                        long, bool, double, void*);
template void attention_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                        const float*, float*, float*, float*, long, long, long, long, bool, float, void*);
template void attention_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                         const double*, double*, double*, double*, long, long, long, long, bool, double,
                                         void*);

}  // namespace pianograd::kernels::cuda
