#include "kernels/cpu/attention_simd.h"
PG_ATTENTION_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
