#include "kernels/cpu/modal_simd.h"
PG_MODAL_ISA_DEFINE(sse2, xsimd::sse2)
