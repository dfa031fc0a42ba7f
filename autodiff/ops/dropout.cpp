// Inverted dropout (Srivastava et al. 2014): keep each element with probability 1 - p and scale it by
// 1/(1 - p) so the expectation is unchanged; identity at eval time. The keep decision of element i
// is a counter-based hash of (seed, i), so the mask is reproducible and independent of threading.
#include <cstdint>
#include <string>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/nn_ops.h"
#include "autodiff/tape.h"

namespace pianograd {

PG_REGISTER_OP(dropout);

namespace {
// SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijective avalanche of a 64-bit counter.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed) {
  check_floating(x, "dropout");
  if (!(p >= 0.0 && p <= 1.0)) throw ValueError("dropout: p must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  // The mask already holds 0 or 1/(1-p): the forward and the VJP are both one multiply by it.
  // p == 1 drops everything (scale 0, not 1/0).
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    T* pm = mask.data<T>();
    const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    // keep when the top 53 bits, as a uniform in [0,1), are >= p.
    const uint64_t base = mix64(seed ^ 0x9e3779b97f4a7c15ULL);
    const int64_t n = x.numel();
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; ++i) {
      const double u = static_cast<double>(mix64(base + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL) >> 11) * 0x1.0p-53;
      pm[i] = u >= p ? scale : T(0);
    }
    return 0;
  });
  Tensor y;
  {
    NoGrad ng;
    y = mul(x, mask).detach();
  }
  record(y, "dropout", {x}, [mask](const Tensor& gy) -> Grads { return {mul(gy, mask)}; });
  return y;
}

}  // namespace pianograd
