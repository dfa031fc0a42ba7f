#include "kernels/cpu/gemm_simd.h"
PG_GEMM_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
