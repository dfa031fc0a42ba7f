#include "kernels/cpu/stft_batched_simd.h"
PG_STFT_BATCHED_ISA_DEFINE(sse2, xsimd::sse2)
