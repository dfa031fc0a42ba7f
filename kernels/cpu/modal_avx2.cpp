#include "kernels/cpu/modal_simd.h"
PG_MODAL_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
