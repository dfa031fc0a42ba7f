#include "kernels/cpu/attention_simd.h"
PG_ATTENTION_ISA_DEFINE(sse2, xsimd::sse2)
