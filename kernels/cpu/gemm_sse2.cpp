#include "kernels/cpu/gemm_simd.h"
PG_GEMM_ISA_DEFINE(sse2, xsimd::sse2)
