#include "kernels/cpu/conv_direct_simd.h"
PG_CONV_DIRECT_ISA_DEFINE(sse2, xsimd::sse2)
