// Pooling and flattening as modules, for use inside Sequential (the ops are in autodiff/ops/conv.h).
#pragma once
#include "autodiff/nn/module.h"

namespace pianograd::nn {

enum class PoolKind { max, avg };

// Pools [N, C, L] (dims = 1) or [N, C, H, W] (dims = 2); stride 0 means stride = kernel.
class Pool : public Module {
 public:
  Pool(PoolKind kind, int dims, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override;

  const PoolKind kind;
  const int dims;
  const int64_t kernel, stride, padding;
};

struct MaxPool1d : Pool {
  explicit MaxPool1d(int64_t kernel, int64_t stride = 0, int64_t padding = 0) : Pool(PoolKind::max, 1, kernel, stride, padding) {}
};
struct AvgPool1d : Pool {
  explicit AvgPool1d(int64_t kernel, int64_t stride = 0, int64_t padding = 0) : Pool(PoolKind::avg, 1, kernel, stride, padding) {}
};
struct MaxPool2d : Pool {
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0) : Pool(PoolKind::max, 2, kernel, stride, padding) {}
};
struct AvgPool2d : Pool {
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0) : Pool(PoolKind::avg, 2, kernel, stride, padding) {}
};

// Mean over every dim from 2 on: [N, C, ...] -> [N, C] (global average pooling).
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GlobalAvgPool"; }
};

// Merges dims [start_dim, end] into one: [N, C, L] -> [N, C*L] with start_dim = 1.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1) : start_dim(start_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }

  const int64_t start_dim;
};

}  // namespace pianograd::nn
