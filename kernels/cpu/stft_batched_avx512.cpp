#include "kernels/cpu/stft_batched_simd.h"
PG_STFT_BATCHED_ISA_DEFINE(avx512, xsimd::avx512bw)
