#include "kernels/cpu/pointwise_loss_simd.h"
PG_POINTWISE_LOSS_ISA_DEFINE(avx512, xsimd::avx512bw)
