#include "kernels/cpu/elementwise_simd.h"
PG_ELEMENTWISE_ISA_DEFINE(sse2, xsimd::sse2)
