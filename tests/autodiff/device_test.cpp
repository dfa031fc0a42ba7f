// The device API on any machine: parsing, and the clean errors when CUDA is asked for but absent
// (this build has no CUDA, or no device is present). The GPU behaviour is tested in tests/cuda.
#include <gtest/gtest.h>

#include <string>

#include "autodiff/device.h"
#include "autodiff/ops.h"

namespace pg = pianograd;
using pg::Device;
using pg::DeviceType;

namespace {

TEST(Device, ParsesCpuCudaAndIndex) {
  EXPECT_EQ(pg::parse_device("cpu"), pg::kCPU);
  EXPECT_EQ(pg::parse_device("cuda"), (Device{DeviceType::CUDA, 0}));
  EXPECT_EQ(pg::parse_device("cuda:0"), pg::kCUDA);
  EXPECT_EQ(pg::parse_device("cuda:12"), (Device{DeviceType::CUDA, 12}));
  EXPECT_EQ(pg::parse_device("cuda:3").str(), "cuda:3");
  EXPECT_EQ(pg::kCPU.str(), "cpu");
}

TEST(Device, RejectsMalformedStrings) {
  for (const char* bad : {"", "gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda0", "cuda:1a"}) {
    try {
      pg::parse_device(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const pg::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot parse"), std::string::npos) << e.what();
    }
  }
}

TEST(Device, AvailabilityQueriesAgree) {
  EXPECT_EQ(pg::cuda::is_available(), pg::cuda::device_count() > 0);
  EXPECT_EQ(pg::cuda::is_available(), pg::cuda_available());
  if (!pg::cuda::is_built()) {
    EXPECT_EQ(pg::cuda::device_count(), 0);
  }
}

// The message a user sees when asking for CUDA where there is none.
std::string expected_absence() {
  return pg::cuda::is_built() ? "no CUDA device present" : "this build has no CUDA";
}

TEST(Device, AskingForAbsentCudaThrowsDeviceError) {
  if (pg::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  const std::string want = expected_absence();
  pg::Tensor x = pg::ones({2, 3});
  auto expect_device_error = [&](auto&& f, const char* what) {
    try {
      f();
      ADD_FAILURE() << what << " did not throw";
    } catch (const pg::DeviceError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << what << ": " << e.what();
    }
  };
  expect_device_error([&] { (void)x.to(pg::kCUDA); }, "to(cuda)");
  expect_device_error([&] { (void)x.cuda(); }, "cuda()");
  expect_device_error([&] { (void)pg::Tensor::empty({4}, pg::DType::f32, pg::kCUDA); }, "empty");
  expect_device_error([&] { (void)pg::zeros({4}, pg::DType::f32, pg::kCUDA); }, "zeros");
  expect_device_error([&] { (void)pg::full({4}, 2.0, pg::DType::f64, pg::kCUDA); }, "full");
  expect_device_error([&] { pg::cuda::synchronize(); }, "synchronize");
  expect_device_error([&] { pg::cuda::Stream s; }, "Stream");
  pg::cuda::empty_cache();  // nothing cached: a no-op, never an error
}

TEST(Device, CpuTensorsStayOnTheCpu) {
  pg::Tensor x = pg::ones({3});
  EXPECT_TRUE(x.to(pg::kCPU).is_same(x));
  EXPECT_TRUE(x.cpu().is_same(x));
  EXPECT_FALSE(x.is_cuda());
  EXPECT_EQ(pg::zeros_like(x).device(), pg::kCPU);
  EXPECT_EQ(pg::scalar(1.0, pg::DType::f32, pg::kCPU).item(), 1.0);
  EXPECT_DOUBLE_EQ(pg::full({2}, 2.5, pg::DType::f64, pg::kCPU).to_vector<double>()[1], 2.5);
  EXPECT_NO_THROW(pg::check_cpu(x, "test"));
  EXPECT_EQ(x.device_ptr(), x.raw_data());
}

TEST(Device, ErrorsNameTheOpAndBothDevices) {
  // A tensor that claims to live on cuda:0 without any CUDA memory behind it: enough to exercise the
  // device checks, which run before any data is touched.
  float host[4] = {1, 2, 3, 4};
  pg::Tensor fake = pg::Tensor::from_blob(host, {4}, pg::DType::f32, [](void*) {}, pg::kCUDA);
  pg::Tensor x = pg::ones({4});
  try {
    (void)pg::add(x, fake);
    ADD_FAILURE() << "add across devices did not throw";
  } catch (const pg::DeviceError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("cpu"), std::string::npos) << m;
    EXPECT_NE(m.find("cuda:0"), std::string::npos) << m;
  }
  // Host code never dereferences device memory: data access throws, naming the device.
  try {
    (void)fake.data<float>();
    ADD_FAILURE() << "data<float>() of a CUDA tensor did not throw";
  } catch (const pg::DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)fake.raw_data(), pg::DeviceError);
  // Ops without a CUDA kernel say so.
  float ha[24] = {}, hb[60] = {};  // a partially broadcast batched matmul is not routed (logsumexp now is)
  const pg::Tensor fa = pg::Tensor::from_blob(ha, {2, 1, 3, 4}, pg::DType::f32, [](void*) {}, pg::kCUDA);
  const pg::Tensor fb = pg::Tensor::from_blob(hb, {1, 3, 4, 5}, pg::DType::f32, [](void*) {}, pg::kCUDA);
  try {
    (void)pg::matmul(fa, fb);
    ADD_FAILURE() << "partially broadcast matmul on cuda did not throw";
  } catch (const pg::DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("has no CUDA kernel yet"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fake.is_cuda());
  EXPECT_EQ(fake.device_ptr(), static_cast<void*>(host));
}

}  // namespace
