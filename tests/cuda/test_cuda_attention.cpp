// scaled_dot_product_attention on CUDA (kernels/cuda/attention.cu) against the CPU op, forward and the
// three gradients through the tape: causal and not, Tq == Tk, Tq < Tk (a KV cache), Tq > Tk unmasked,
// key lengths past one 32-key tile, head dims with a tail of the 32 lanes and the largest (128), float
// and double; and the CUDA-only limit on the head dim. Labelled `gpu`; skips with "no CUDA device".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda_test.h"

namespace {

double tol_for(DType d) { return d == DType::f32 ? 1e-4 : 1e-11; }

struct AttnCase {
  Shape q, k;
  bool causal;
  double scale;
};

class CudaAttention : public ::testing::TestWithParam<DType> {};

TEST_P(CudaAttention, MatchesCpuForwardAndBackward) {
  PG_REQUIRE_GPU();
  const DType d = GetParam();
  const std::vector<AttnCase> cases = {
      {{2, 3, 7, 8}, {2, 3, 7, 8}, true, 0.0},        // triangle
      {{1, 2, 5, 16}, {1, 2, 70, 16}, true, 0.0},     // end-aligned, three 32-key tiles
      {{2, 1, 1, 33}, {2, 1, 45, 33}, true, 0.0},     // one query against a KV cache, d past 32 lanes
      {{1, 2, 9, 20}, {1, 2, 4, 20}, false, 0.4},     // Tq > Tk unmasked, explicit scale
      {{1, 1, 66, 128}, {1, 1, 66, 128}, true, 0.0},  // the largest head dim (shared memory opt-in)
  };
  for (const AttnCase& c : cases) {
    const std::string name = pg::shape_str(c.q) + " x " + pg::shape_str(c.k) + (c.causal ? " causal" : " full");
    compare(name, {random(c.q, d, -2, 2), random(c.k, d, -2, 2), random(c.k, d, -1, 1)},
            [&](const std::vector<Tensor>& in) {
              return pg::scaled_dot_product_attention(in[0], in[1], in[2], c.causal, c.scale);
            },
            tol_for(d));
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaAttention, ::testing::Values(DType::f32, DType::f64));

TEST(CudaAttentionLimits, HeadDimAboveTheKernelsIsAValueErrorAndMixedDevicesADeviceError) {
  PG_REQUIRE_GPU();
  const Tensor big = pg::zeros({1, 1, 4, 129}).cuda();
  EXPECT_THROW(pg::scaled_dot_product_attention(big, big, big), pg::ValueError);
  const Tensor q = pg::zeros({1, 1, 4, 8});
  EXPECT_THROW(pg::scaled_dot_product_attention(q.cuda(), q, q), pg::DeviceError);
}

}  // namespace
