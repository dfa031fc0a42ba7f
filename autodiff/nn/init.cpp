#include "autodiff/nn/init.h"

#include <cmath>
#include <cstring>

namespace pianograd::nn::init {
namespace {

void check_float(const Tensor& t, const char* fn) {
  if (!t.defined()) throw ValueError(std::string("init.") + fn + ": tensor is undefined");
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string("init.") + fn + ": expected a floating tensor, got " + dtype_name(t.dtype()));
}

// Writes src (same shape, f64 or the target dtype) into t's storage without recording: initialising
// a leaf parameter is not part of any graph.
void assign(Tensor& t, const Tensor& src) {
  const Tensor s = src.dtype() == t.dtype() ? src : src.to(t.dtype()).detach();
  std::memcpy(t.raw_data(), s.raw_data(), t.nbytes());
}

template <class F>
void map_inplace(Tensor& t, F&& f) {
  if (t.dtype() == DType::f32) {
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(f(static_cast<double>(p[i])));
  } else {
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = f(p[i]);
  }
}

}  // namespace

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  if (!w.defined() || w.dim() < 2)
    throw ShapeError("init.fans: needs a tensor with at least 2 dims, got " +
                     (w.defined() ? shape_str(w.shape()) : std::string("undefined")));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "conv" || nl == "conv1d" || nl == "conv2d" || nl == "sigmoid") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nl == "selu") return 3.0 / 4.0;
  throw ValueError("init.calculate_gain: unknown nonlinearity '" + nl + "'");
}

void uniform_(Tensor& t, double lo, double hi) {
  check_float(t, "uniform_");
  if (!(hi >= lo)) throw ValueError("init.uniform_: need lo <= hi");
  assign(t, rand(t.shape(), t.dtype()));
  map_inplace(t, [&](double u) { return lo + (hi - lo) * u; });
}

void normal_(Tensor& t, double mean, double stddev) {
  check_float(t, "normal_");
  if (!(stddev >= 0)) throw ValueError("init.normal_: stddev must be >= 0");
  assign(t, randn(t.shape(), t.dtype()));
  map_inplace(t, [&](double z) { return mean + stddev * z; });
}

void constant_(Tensor& t, double value) {
  check_float(t, "constant_");
  map_inplace(t, [&](double) { return value; });
}
void zeros_(Tensor& t) { constant_(t, 0.0); }
void ones_(Tensor& t) { constant_(t, 1.0); }

void xavier_uniform_(Tensor& t, double gain) {
  check_float(t, "xavier_uniform_");
  const auto [fi, fo] = fans(t);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  uniform_(t, -a, a);
}

void xavier_normal_(Tensor& t, double gain) {
  check_float(t, "xavier_normal_");
  const auto [fi, fo] = fans(t);
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fi + fo)));
}

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode, const std::string& nl) {
  const auto [fi, fo] = fans(t);
  const int64_t fan = mode == FanMode::fan_in ? fi : fo;
  if (fan == 0) throw ShapeError("init.kaiming: zero fan for shape " + shape_str(t.shape()));
  return calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

void kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nl) {
  check_float(t, "kaiming_uniform_");
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  uniform_(t, -bound, bound);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nl) {
  check_float(t, "kaiming_normal_");
  normal_(t, 0.0, kaiming_std(t, a, mode, nl));
}

}  // namespace pianograd::nn::init
