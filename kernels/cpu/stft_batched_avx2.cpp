#include "kernels/cpu/stft_batched_simd.h"
PG_STFT_BATCHED_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
