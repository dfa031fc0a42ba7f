// Emulated widths (emulated_width.h): the row reductions, softmax and layer_norm.
#include "emulated_width.h"
#include "kernels/cpu/reduce_simd.h"

#define PG_DEFINE(ns, W) PG_REDUCE_ISA_DEFINE(ns, simd::emulated<W>)
PG_EMULATED_WIDTHS(PG_DEFINE)
#undef PG_DEFINE

namespace pianograd::kernels::cpu::emulated_testing {
namespace {

using namespace conformance;

template <class T>
struct RowKernels {
  RowsFn<T> sum, lse;
  MaxRowsFn<T> max;
  SoftmaxFn<T> softmax;
  SoftmaxBwdFn<T> softmax_bwd;
  LayerNormFn<T> ln;
  LayerNormBwdFn<T> ln_bwd;
};

template <class T>
void reductions(int W, const RowKernels<T>& k) {
  const char* t = type_name<T>();
  for (long n : sizes(W)) {
    expect_ok(check_sum_rows<T>(n, k.sum), W, t, "sum_rows", n);
    for (bool is_min : {false, true})
      for (bool nan : {false, true}) expect_ok(check_max_rows<T>(is_min, nan, n, k.max), W, t, "max_rows", n);
    expect_ok(check_logsumexp_rows<T>(n, k.lse), W, t, "logsumexp_rows", n);
    for (bool log : {false, true})
      expect_ok(check_softmax_rows<T>(log, n, k.softmax, k.softmax_bwd), W, t, log ? "log_softmax" : "softmax", n);
    expect_ok(check_layer_norm_rows<T>(n, k.ln, k.ln_bwd), W, t, "layer_norm", n);
  }
}

#define PG_KERNELS(ns, T)                                                                                 \
  RowKernels<T> {                                                                                         \
    &ns::sum_rows<T>, &ns::logsumexp_rows<T>, &ns::max_rows<T>, &ns::softmax_rows<T>,                     \
        &ns::softmax_backward_rows<T>, &ns::layer_norm_rows<T>, &ns::layer_norm_backward_rows<T>          \
  }
#define PG_TEST(ns, W)                                 \
  TEST(EmulatedWidth, Reductions##W) {                 \
    reductions<float>(W, PG_KERNELS(ns, float));       \
    reductions<double>(W, PG_KERNELS(ns, double));     \
  }
PG_EMULATED_WIDTHS(PG_TEST)
#undef PG_TEST
#undef PG_KERNELS

}  // namespace
}  // namespace pianograd::kernels::cpu::emulated_testing
