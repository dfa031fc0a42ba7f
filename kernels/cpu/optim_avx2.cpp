#include "kernels/cpu/optim_simd.h"
PG_OPTIM_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
