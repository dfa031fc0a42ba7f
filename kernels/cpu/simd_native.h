// Native xsimd batches (one SSE/AVX/AVX-512 register, with a register_type the intrinsics accept) as
// opposed to the tests' emulated batches (kernels/cpu/emulated_batch.h, plain lanes): code that drops
// to intrinsics for a width takes that branch only for a native batch.
#pragma once

namespace pianograd::kernels::cpu::simd {

template <class B>
concept NativeBatch = requires { typename B::register_type; };

}  // namespace pianograd::kernels::cpu::simd
