// nn::Module::to on a machine without a usable CUDA device (issue 6): to(cpu) is a no-op that keeps
// every handle and its memory; to(cuda) throws DeviceError and leaves the module exactly as it was.
// The CUDA moves themselves are tested in tests/cuda/test_cuda_model.cpp.
#include <gtest/gtest.h>

#include "autodiff/device.h"
#include "autodiff/nn/linear.h"
#include "autodiff/nn/sequential.h"
#include "autodiff/ops.h"
#include "autodiff/optim/sgd.h"

namespace pg = pianograd;

namespace {

TEST(ModuleTo, CpuIsANoOp) {
  pg::manual_seed(2);
  pg::nn::Linear lin(3, 2);
  pg::Tensor w = lin.weight;
  const void* data = w.raw_data();
  const auto values = w.to_vector<float>();
  EXPECT_EQ(&lin.to(pg::kCPU), &lin);
  EXPECT_EQ(&lin.cpu(), &lin);
  EXPECT_TRUE(lin.weight.is_same(w));
  EXPECT_EQ(w.raw_data(), data);  // no copy was made
  EXPECT_EQ(w.to_vector<float>(), values);
  EXPECT_TRUE(lin.device() == pg::kCPU);
}

TEST(ModuleTo, MissingCudaThrowsAndLeavesTheModuleUnchanged) {
  if (pg::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present (tests/cuda covers the move)";
  pg::manual_seed(4);
  pg::nn::Linear lin(3, 2);
  pg::sum(lin(pg::randn({5, 3}))).backward();
  const void* data = lin.weight.raw_data();
  const void* grad = lin.weight.grad().raw_data();
  EXPECT_THROW(lin.to(pg::kCUDA), pg::DeviceError);
  EXPECT_THROW(lin.cuda(1), pg::DeviceError);
  EXPECT_FALSE(lin.weight.is_cuda());
  EXPECT_EQ(lin.weight.raw_data(), data);
  EXPECT_EQ(lin.weight.grad().raw_data(), grad);
  EXPECT_TRUE(lin.weight.requires_grad());
  // The module still trains on the CPU afterwards, with an optimizer built before the failed move.
  pg::optim::SGD opt(lin.parameters(), {});
  const float before = lin.bias.to_vector<float>()[0];
  opt.step();
  EXPECT_NE(lin.bias.to_vector<float>()[0], before);
}

TEST(ModuleTo, MessageNamesTheModule) {
  if (pg::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  pg::nn::Linear lin(2, 2);
  try {
    lin.to(pg::kCUDA);
    FAIL() << "expected DeviceError";
  } catch (const pg::DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("Linear.to"), std::string::npos) << e.what();
  }
}

}  // namespace
