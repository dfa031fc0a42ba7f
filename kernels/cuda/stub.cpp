// The CUDA backend of a CPU-only build: links, and says that CUDA is not available.
#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
bool available() { return false; }
int device_count() { return 0; }
}  // namespace pianograd::kernels::cuda
