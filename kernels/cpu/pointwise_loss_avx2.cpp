#include "kernels/cpu/pointwise_loss_simd.h"
PG_POINTWISE_LOSS_ISA_DEFINE(avx2, xsimd::fma3<xsimd::avx2>)
