// The xsimd primitive checks (simd_primitives.h) for xsimd::avx512bw, compiled with the AVX-512 flags
// (cmake/PianogradIsaSources.cmake) like kernels/cpu/*_avx512.cpp.
// No gtest and no static initialisers here: this unit's code may only run after the CPU check in
// simd_primitives_test.cpp.
#include "simd_primitives.h"

namespace pianograd::kernels::cpu::simd_primitives {

void pianograd_simd_primitives_avx512(PrimitiveReport* report) { run_all<xsimd::avx512bw>(*report); }

}  // namespace pianograd::kernels::cpu::simd_primitives
