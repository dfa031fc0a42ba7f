// Emulated widths (emulated_width.h): the fused attention's forward and backward bodies at 4, 8 and 16
// lanes, through the dispatcher's own driver (threads, scratch, dq partials), with the conformance
// suite's inputs, references and bounds (kernels/cpu/conformance_attention.h).
#include "emulated_width.h"
#include "kernels/cpu/attention_simd.h"
#include "kernels/cpu/conformance_attention.h"

#define PG_DEFINE(ns, W) PG_ATTENTION_ISA_DEFINE(ns, simd::emulated<W>)
PG_EMULATED_WIDTHS(PG_DEFINE)
#undef PG_DEFINE

namespace pianograd::kernels::cpu::emulated_testing {
namespace {

using namespace conformance;

template <class T>
void attention(int W, AttentionForwardItems<T> fwd, AttentionBackwardItems<T> bwd) {
  const char* t = type_name<T>();
  const AttnForwardFn<T> f = [fwd](const AttentionForward<T>& a) { attention_forward_run(a, fwd); };
  const AttnBackwardFn<T> b = [bwd](const AttentionBackward<T>& a) { attention_backward_run(a, bwd); };
  const std::pair<AttnSweep, const char*> sweeps[] = {{AttnSweep::square_causal, "square_causal"},
                                                      {AttnSweep::decode_causal, "decode_causal"},
                                                      {AttnSweep::full, "full"},
                                                      {AttnSweep::head_dim, "head_dim"}};
  for (const auto& [sweep, name] : sweeps)
    for (long n : sizes(W, {65, 130})) expect_ok(check_attention<T>(sweep, n, f, b), W, t, name, n);
}

#define PG_TEST(ns, W)                                                                                   \
  TEST(EmulatedWidth, Attention##W) {                                                                    \
    attention<float>(W, &ns::attention_forward_items<float>, &ns::attention_backward_items<float>);     \
    attention<double>(W, &ns::attention_forward_items<double>, &ns::attention_backward_items<double>);  \
  }
PG_EMULATED_WIDTHS(PG_TEST)
#undef PG_TEST

}  // namespace
}  // namespace pianograd::kernels::cpu::emulated_testing
