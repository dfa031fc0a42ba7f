#include "kernels/cpu/reduce_simd.h"
PG_REDUCE_ISA_DEFINE(sse2, xsimd::sse2)
