#include "kernels/cpu/conv_direct_simd.h"
PG_CONV_DIRECT_ISA_DEFINE(avx512, xsimd::avx512bw)
