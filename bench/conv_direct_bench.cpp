// The direct-convolution drivers (kernels/cpu/conv_direct.h) on the transcriber's layer geometries (lead
// config, batch 8, F = 201 frames, 88 keys), one pass each, one thread, in GFLOP/s of USEFUL arithmetic
// (2 x N*Cout*C*KH*KW*OH*OW; the wide path's discarded columns are not counted). ~66% of a training step
// runs in these row kernels, so this is the harness to tune them with (peak of this core: ~102 GFLOP/s fp32
// with 12 independent FMA chains). Rates are per process CPU second (robust on the shared 2-core machine).
//   build-x/bench/pianograd_bench --benchmark_filter='BM_conv_direct' --benchmark_repetitions=5
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "kernels/cpu/conv_direct.h"

namespace {
using pianograd::kernels::cpu::ConvGeom;
namespace kc = pianograd::kernels::cpu;

struct Layer {
  const char* name;
  ConvGeom g;
  long c1;  // > 0: the input is the channel concatenation [x (c1 channels) | x2] read in place
  bool relu;
};

ConvGeom geom(long C, long H, long W, long Cout, long KH, long KW, long ph, long pw, long dh) {
  ConvGeom g;
  g.N = 8;
  g.C = C, g.H = H, g.W = W, g.Cout = Cout, g.KH = KH, g.KW = KW, g.ph = ph, g.pw = pw, g.dh = dh;
  g.OH = H + 2 * ph - dh * (KH - 1);
  g.OW = W + 2 * pw - (KW - 1);
  return g;
}

constexpr long kF = 201, kKeys = 88;
const std::vector<Layer>& layers() {
  static const std::vector<Layer> l = {
      {"temporal0", geom(32, kF, kKeys, 32, 5, 1, 2, 0, 1), 24, true},     // [h (24) | key conv (8)]
      {"temporal1", geom(32, kF, kKeys, 32, 5, 1, 4, 0, 2), 0, true},      // dilation 2
      {"key_conv", geom(24, kF, kKeys, 8, 1, 13, 0, 6, 1), 0, true},       // wide path (padded copy)
      {"conv0", geom(8, kF, 3 * kKeys, 8, 3, 3, 1, 1, 1), 0, true},        // 3 x 3 over (time, bins)
      {"frame_hidden", geom(33, kF, kKeys, 16, 3, 1, 1, 0, 1), 32, true},  // [t (32) | onset gate (1)]
      {"readout", geom(8, kF * kKeys, 3, 24, 1, 3, 0, 0, 1), 0, false},    // full width [1 x 3]
  };
  return l;
}

// Page-aligned like the engine's large tensors (autodiff/allocator.cpp): the kernels' speed depends on the
// buffers' relative placement modulo 4 KiB (up to +-20% on the weight gradient when glibc serves them
// from its heap at arbitrary offsets, which made rates depend on which benchmarks ran before).
struct Buf {
  float* p = nullptr;
  long n = 0;
  explicit Buf(long n_, uint32_t seed) : n(n_) {
    const size_t bytes = (static_cast<size_t>(std::max(n, 1L)) * sizeof(float) + 4095) / 4096 * 4096;
    p = static_cast<float*>(std::aligned_alloc(4096, bytes));
    if (!p) throw std::bad_alloc();
    uint32_t s = seed;
    for (long i = 0; i < n; ++i) {
      s = s * 1664525u + 1013904223u;
      p[i] = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { std::free(p); }
  float* data() const { return p; }
};

enum class Pass { fwd, bwd_input, bwd_weight, bwd_relu };

void BM_conv_direct(benchmark::State& state, const Layer& ly, Pass pass) {
  const int prev = omp_get_max_threads();
  omp_set_num_threads(1);
  const ConvGeom& g = ly.g;
  const long ntaps = g.KH * g.KW, out_n = g.N * g.Cout * g.OH * g.OW;
  const long c1 = ly.c1 > 0 ? ly.c1 : g.C;
  // With two inputs, x holds the first c1 channels of each image and x2 the rest.
  const long xn = g.N * c1 * g.H * g.W, x2n = g.N * (g.C - c1) * g.H * g.W, wn = g.Cout * g.C * ntaps;
  const Buf x(xn, 1), x2(x2n, 2), w(wn, 3), b(g.Cout, 4), y(out_n, 5), gx(xn, 6), gx2(x2n, 7), gw(wn, 8);
  const Buf gy(pass == Pass::bwd_relu ? out_n : 0, 9), gb(g.Cout, 10);
  const bool cat = ly.c1 > 0;
  const float* x2p = cat ? x2.data() : nullptr;
  float* gx2p = cat ? gx2.data() : nullptr;
  for (auto _ : state) {
    switch (pass) {
      case Pass::fwd: kc::conv_direct_forward<float>(x.data(), w.data(), b.data(), y.data(), g, ly.relu, x2p, ly.c1); break;
      case Pass::bwd_input: kc::conv_direct_backward_input<float>(y.data(), w.data(), gx.data(), g, gx2p, ly.c1); break;
      case Pass::bwd_weight: kc::conv_direct_backward_weight<float>(x.data(), y.data(), gw.data(), g, x2p, ly.c1); break;
      // The fused-ReLU backward the training step runs (mask by y > 0, both gradients and the bias's);
      // y is half negative (uniform in [-1, 1)), like a ReLU layer's pre-activations.
      case Pass::bwd_relu:
        kc::conv_direct_backward_relu<float>(x.data(), w.data(), y.data(), gy.data(), gx.data(), gw.data(), gb.data(),
                                             g, x2p, gx2p, ly.c1);
        break;
    }
    benchmark::ClobberMemory();
  }
  omp_set_num_threads(prev);
  // bwd_relu: both passes' MACs (the mask and bias sums not counted).
  const double flops = (pass == Pass::bwd_relu ? 4.0 : 2.0) * static_cast<double>(g.N * g.Cout * g.C * ntaps * g.OH * g.OW);
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  const std::pair<Pass, const char*> passes[] = {
      {Pass::fwd, "fwd"}, {Pass::bwd_input, "bwd_input"}, {Pass::bwd_weight, "bwd_weight"}, {Pass::bwd_relu, "bwd_relu"}};
  for (const Layer& ly : layers())
    for (const auto& [p, pname] : passes) {
      if (p == Pass::bwd_relu && !ly.relu) continue;
      benchmark::RegisterBenchmark((std::string("BM_conv_direct/") + ly.name + "/" + pname).c_str(),
                                   [&ly, p = p](benchmark::State& s) { BM_conv_direct(s, ly, p); })
          ->Unit(benchmark::kMillisecond)
          ->MeasureProcessCPUTime();
    }
  return true;
}();

}  // namespace
