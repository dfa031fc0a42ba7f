#include "kernels/cpu/optim_simd.h"
PG_OPTIM_ISA_DEFINE(avx512, xsimd::avx512bw)
