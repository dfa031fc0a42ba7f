#include "kernels/cpu/reduce_simd.h"
PG_REDUCE_ISA_DEFINE(avx512, xsimd::avx512bw)
