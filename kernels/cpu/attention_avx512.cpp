#include "kernels/cpu/attention_simd.h"
PG_ATTENTION_ISA_DEFINE(avx512, xsimd::avx512bw)
