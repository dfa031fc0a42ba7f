#include "kernels/cpu/reduce_simd.h"
PG_REDUCE_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
