#include "kernels/cpu/elementwise_simd.h"
PG_ELEMENTWISE_ISA_DEFINE(avx512, xsimd::avx512bw)
