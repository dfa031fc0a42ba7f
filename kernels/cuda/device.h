// CUDA backend entry points visible to the rest of the library. A CPU-only build links stub.cpp,
// whose answers say "not available".
#pragma once

namespace pianograd::kernels::cuda {
bool available();      // built with CUDA and a device is present
int device_count();    // 0 without CUDA
}  // namespace pianograd::kernels::cuda
