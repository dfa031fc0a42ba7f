// The merged body+room response is reused between renders while the impulse responses are unchanged
// and no gradient flows to them (synth/event_renderer.cpp, merged_ir): a change to an IR, in place or
// by assignment, must show in the next render, and IR gradients must still flow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/event_renderer.h"

namespace pianograd {
namespace {

Tensor chord(PianoParams& p) {
  return render_events(p, from_vector(std::vector<int64_t>{40, 55, 71}), tensor({0.0, 0.01, 0.02}, DType::f64),
                       tensor({0.2, 0.25, 0.3}, DType::f64), tensor({60.0, 80.0, 100.0}, DType::f64), Tensor(), 6000);
}

PianoParams deep_copy(const PianoParams& p) {
  PianoParams q = p;
  for (int i = 0; i < kNumPianoParams; ++i) q[i] = p[i].detach().clone();
  return q;
}

TEST(MergedIrCache, ChangedImpulseResponsesShowInTheNextRender) {
  PianoParams p = PianoParams::concert_grand(16000, DType::f64);
  NoGrad ng;
  const std::vector<double> y1 = chord(p).to_vector<double>();
  EXPECT_EQ(chord(p).to_vector<double>(), y1);  // reused: the same values
  p[kRoomIr].data<double>()[3] += 0.05;          // in place, as an optimizer step would
  PianoParams fresh = deep_copy(p);
  const std::vector<double> y2 = chord(p).to_vector<double>();
  EXPECT_NE(y2, y1);
  EXPECT_EQ(y2, chord(fresh).to_vector<double>());
  p[kBodyIr] = mul(p[kBodyIr], 0.5);  // a new tensor
  const std::vector<double> y3 = chord(p).to_vector<double>();
  for (size_t i = 0; i < y3.size(); ++i) ASSERT_NEAR(y3[i], 0.5 * y2[i], 1e-9 + 1e-9 * std::fabs(y2[i]));
}

TEST(MergedIrCache, GradientsStillReachTheImpulseResponses) {
  PianoParams p = PianoParams::concert_grand(16000, DType::f64);
  {
    NoGrad ng;
    chord(p);  // fills the cache
  }
  p[kRoomIr].requires_grad_(true);
  p[kBodyIr].requires_grad_(true);
  sum(mul(chord(p), chord(p))).backward();
  for (int id : {kRoomIr, kBodyIr}) {
    ASSERT_TRUE(p[id].grad().defined());
    double m = 0;
    for (double v : p[id].grad().to_vector<double>()) m = std::max(m, std::fabs(v));
    EXPECT_GT(m, 0.0) << id;
  }
}

}  // namespace
}  // namespace pianograd
