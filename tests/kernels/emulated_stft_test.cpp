// Emulated widths (emulated_width.h): the batched STFT, frames across 4, 8 or 16 lanes (float), driven
// group by group as stft_magnitude_batched drives an ISA's stft_group.
#include "emulated_width.h"
#include "kernels/cpu/stft_batched_simd.h"

#define PG_DEFINE(ns, W) PG_STFT_BATCHED_ISA_DEFINE(ns, simd::emulated<W>)
PG_EMULATED_WIDTHS(PG_DEFINE)
#undef PG_DEFINE

namespace pianograd::kernels::cpu::emulated_testing {
namespace {

using namespace conformance;

template <class Group>
StftFn driver(long lanes, Group group) {
  return [lanes, group](const float* x, long batch, const StftGeometry& g, float* mag, std::complex<float>* spec) {
    const StftBatchedPlan& plan = stft_batched_plan(g.n_fft);
    for (long f0 = 0; f0 < batch * g.frames(); f0 += lanes) group(x, batch, g, plan, f0, mag, spec);
  };
}

void stft(int W, const StftFn& fn) {
  for (long frames : sizes(W, {203}))
    for (const auto& [n_fft, hop, truncated] : {std::tuple<long, long, bool>{16, 4, false}, {64, 16, false},
                                                 {512, 128, false}, {256, 64, true}})
      expect_ok(check_stft(n_fft, hop, truncated, frames, fn), W, "float", "stft n_fft " + std::to_string(n_fft), frames);
}

#define PG_TEST(ns, W)                                                           \
  TEST(EmulatedWidth, BatchedStft##W) {                                          \
    ASSERT_EQ(ns::stft_lanes(), W);                                              \
    stft(W, driver(ns::stft_lanes(), &ns::stft_group));                          \
  }
PG_EMULATED_WIDTHS(PG_TEST)
#undef PG_TEST

}  // namespace
}  // namespace pianograd::kernels::cpu::emulated_testing
