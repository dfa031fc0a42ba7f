// The xsimd primitive checks (simd_primitives.h) for xsimd::fma3<xsimd::avx2>, compiled with -mavx2 -mfma
// (cmake/PianogradIsaSources.cmake) like kernels/cpu/*_avx2.cpp.
// No gtest and no static initialisers here: this unit's code may only run after the CPU check in
// simd_primitives_test.cpp.
#include "simd_primitives.h"

namespace pianograd::kernels::cpu::simd_primitives {

void pianograd_simd_primitives_avx2(PrimitiveReport* report) { run_all<xsimd::fma3<xsimd::avx2>>(*report); }

}  // namespace pianograd::kernels::cpu::simd_primitives
