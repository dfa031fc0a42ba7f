#include "kernels/cpu/optim_simd.h"
PG_OPTIM_ISA_DEFINE(sse2, xsimd::sse2)
