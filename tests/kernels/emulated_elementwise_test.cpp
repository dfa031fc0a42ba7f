// Emulated widths (emulated_width.h): the elementwise kernels, the pointwise losses and the Adam step.
#include "emulated_width.h"
#include "kernels/cpu/elementwise_simd.h"
#include "kernels/cpu/optim_simd.h"
#include "kernels/cpu/pointwise_loss_simd.h"

#define PG_DEFINE(ns, W)                                              \
  PG_ELEMENTWISE_ISA_DEFINE(ns, simd::emulated<W>)                    \
  PG_POINTWISE_LOSS_ISA_DEFINE(ns, simd::emulated<W>)                 \
  PG_OPTIM_ISA_DEFINE(ns, simd::emulated<W>)
PG_EMULATED_WIDTHS(PG_DEFINE)
#undef PG_DEFINE

namespace pianograd::kernels::cpu::emulated_testing {
namespace {

using namespace conformance;

template <class T>
void elementwise(int W, BinaryFn<T> binary, UnaryFn<T> unary, UnaryBwdFn<T> unary_bwd, LossFn<T> loss, AdamFn<T> adam) {
  const char* t = type_name<T>();
  for (long n : sizes(W)) {
    for (int op = 0; op <= static_cast<int>(BinaryOp::minimum); ++op)
      expect_ok(check_binary<T>(static_cast<BinaryOp>(op), n, binary), W, t, "binary op " + std::to_string(op), n);
    for (int op = 0; op <= static_cast<int>(UnaryOp::softplus); ++op)
      expect_ok(check_unary<T>(static_cast<UnaryOp>(op), n, unary), W, t, "unary op " + std::to_string(op), n);
    for (int op = 0; op <= static_cast<int>(UnaryOp::softplus); ++op)
      expect_ok(check_unary_backward<T>(static_cast<UnaryOp>(op), n, unary_bwd), W, t,
                "unary_backward op " + std::to_string(op), n);
    for (auto kind : {PointwiseLoss::mse, PointwiseLoss::l1, PointwiseLoss::bce_with_logits})
      for (int weight = 0; weight < (kind == PointwiseLoss::bce_with_logits ? 3 : 1); ++weight)
        expect_ok(check_pointwise_loss<T>(kind, weight, n, loss), W, t, "pointwise_loss " + std::to_string(static_cast<int>(kind)), n);
    for (bool decoupled : {false, true}) expect_ok(check_adam<T>(decoupled, n, adam), W, t, "adam_update", n);
  }
}

#define PG_TEST(ns, W)                                                                                   \
  TEST(EmulatedWidth, ElementwiseLossesAndAdam##W) {                                                     \
    elementwise<float>(W, &ns::binary<float>, &ns::unary<float>, &ns::unary_backward<float>,              \
                       &ns::pointwise_loss<float>, &ns::adam_update<float>);                             \
    elementwise<double>(W, &ns::binary<double>, &ns::unary<double>, &ns::unary_backward<double>,         \
                        &ns::pointwise_loss<double>, &ns::adam_update<double>);                          \
  }
PG_EMULATED_WIDTHS(PG_TEST)
#undef PG_TEST

}  // namespace
}  // namespace pianograd::kernels::cpu::emulated_testing
