// The xsimd primitive checks (simd_primitives.h) for xsimd::sse2, with baseline flags, as in
// kernels/cpu/*_sse2.cpp.
// No gtest and no static initialisers here: this unit's code may only run after the CPU check in
// simd_primitives_test.cpp.
#include "simd_primitives.h"

namespace pianograd::kernels::cpu::simd_primitives {

void pianograd_simd_primitives_sse2(PrimitiveReport* report) { run_all<xsimd::sse2>(*report); }

}  // namespace pianograd::kernels::cpu::simd_primitives
