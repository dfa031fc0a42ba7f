#include "kernels/cpu/pointwise_loss_simd.h"
PG_POINTWISE_LOSS_ISA_DEFINE(sse2, xsimd::sse2)
