// Shared by the tests that drive CUDA through the autodiff API: the names they use and the skip that
// makes each test report SKIPPED, with its reason, on a machine without a device.
#pragma once
#include <gtest/gtest.h>

#include "autodiff/device.h"
#include "autodiff/tensor.h"

namespace pg = pianograd;
using pg::DType;
using pg::Shape;
using pg::Tensor;

#define PG_REQUIRE_GPU() \
  if (!pg::cuda::is_available()) GTEST_SKIP() << "no CUDA device"
