#include "kernels/cpu/gemm_simd.h"
PG_GEMM_ISA_DEFINE(avx512, xsimd::avx512bw)
