#include "kernels/cpu/elementwise_simd.h"
PG_ELEMENTWISE_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
