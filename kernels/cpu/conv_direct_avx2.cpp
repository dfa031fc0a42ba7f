#include "kernels/cpu/conv_direct_simd.h"
PG_CONV_DIRECT_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
