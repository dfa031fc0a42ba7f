// Emulated widths (emulated_width.h): the packed GEMM (its 6 x 2W register tiles and packing) and the
// direct convolution's row kernels.
#include "emulated_width.h"
#include "kernels/cpu/conv_direct_simd.h"
#include "kernels/cpu/gemm_simd.h"

#define PG_DEFINE(ns, W)                               \
  PG_GEMM_ISA_DEFINE(ns, simd::emulated<W>)            \
  PG_CONV_DIRECT_ISA_DEFINE(ns, simd::emulated<W>)
PG_EMULATED_WIDTHS(PG_DEFINE)
#undef PG_DEFINE

namespace pianograd::kernels::cpu::emulated_testing {
namespace {

using namespace conformance;

template <class T>
void gemm_and_taps(int W, GemmFn<T> gemm, TapsForwardFn<T> fwd, TapsWeightFn<T> weight, ReluMaskFn<T> mask) {
  const char* t = type_name<T>();
  for (long n : sizes(W, {300})) {  // 300: past the 256-deep K blocks
    for (bool ta : {false, true})
      for (bool tb : {false, true}) expect_ok(check_gemm<T>(ta, tb, false, n, gemm), W, t, "gemm_packed", n);
    expect_ok(check_gemm<T>(false, false, true, n, gemm), W, t, "gemm_packed beta 0 over NaN", n);
    expect_ok(check_taps<T>(n, fwd, weight, mask), W, t, "taps_forward/taps_weight/relu_mask", n);
  }
}

#define PG_TEST(ns, W)                                                                                          \
  TEST(EmulatedWidth, GemmAndConvRows##W) {                                                                     \
    gemm_and_taps<float>(W, &ns::gemm_packed<float>, &ns::taps_forward<float>, &ns::taps_weight<float>,         \
                         &ns::relu_mask<float>);                                                                \
    gemm_and_taps<double>(W, &ns::gemm_packed<double>, &ns::taps_forward<double>, &ns::taps_weight<double>,     \
                          &ns::relu_mask<double>);                                                              \
  }
PG_EMULATED_WIDTHS(PG_TEST)
#undef PG_TEST

}  // namespace
}  // namespace pianograd::kernels::cpu::emulated_testing
