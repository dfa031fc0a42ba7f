#include "kernels/cpu/modal_simd.h"
PG_MODAL_ISA_DEFINE(avx512, xsimd::avx512bw)
