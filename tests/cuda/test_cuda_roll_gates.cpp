// The roll renderer's compact gates on a CUDA device (kernels/cuda/roll_gate.cu through
// synth/roll_gates.h): fill_cuda equals fill_cpu and reduce_cuda equals reduce_cpu on the same packed bank,
// float and double, with the gate roll uploaded by the source or read from the device control itself, for
// R > spf, R < spf and a fine frame grid. The CPU reference is proven against the renderer's dense rows in
// tests/synth/test_roll_gates.cpp. Skips without a device.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda_test.h"
#include "synth/modal_packed.h"
#include "synth/performance.h"
#include "synth/roll_gates.h"

namespace {

struct Case {
  long B, F;
  double fr, tau;
  int64_t N;
};

// Staccato repeats, a note held past the roll, soft notes; strikes in the first and a late frame.
std::vector<double> roll(const Case& c, unsigned seed, bool onset) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.2, 1.0);
  std::vector<double> v(static_cast<size_t>(c.B * c.F * pg::kNumKeys), 0.0);
  auto at = [&](long b, long f, long k) -> double& { return v[static_cast<size_t>((b * c.F + f) * pg::kNumKeys + k)]; };
  const long last = std::min(c.F - 1, static_cast<long>(std::floor(static_cast<double>(c.N - 1) * c.fr / 16000.0)));
  for (long b = 0; b < c.B; ++b) {
    for (long f = 0; f < c.F; ++f) {
      if (onset) {
        if (f % 2 == 0) at(b, f, 40 + b) = u(rng);
      } else {
        at(b, f, 40 + b) = f % 3 == 0 ? 1.0 : f % 3 == 1 ? 0.6 : 0.0;
        at(b, f, 20) = 0.9;
      }
    }
    at(b, 0, 20) = onset ? 1.0 : 0.9;
    at(b, last, 70) = onset ? 0.8 : 0.7;
    const long k = 50 + static_cast<long>(u(rng) * 20), f0 = static_cast<long>(u(rng) * static_cast<double>(c.F - 1));
    if (onset) at(b, f0, k) = u(rng);
    else
      for (long f = f0; f < std::min(c.F, f0 + 4); ++f) at(b, f, k) = u(rng);
  }
  return v;
}

template <class T>
void device_matches_cpu(bool control_on_device) {
  PG_REQUIRE_GPU();
  const pg::Device dev = pg::kCUDA;
  for (const Case& c : {Case{3, 24, 31.25, 0.004, 14000}, Case{2, 30, 31.25, 0.0005, 12000}, Case{1, 80, 250.0, 0.004, 6000},
                        Case{2, 20, 30.0, 0.004, 11000}}) {
    SCOPED_TRACE("fr " + std::to_string(c.fr) + " tau " + std::to_string(c.tau));
    const pg::Shape s{c.B, c.F, pg::kNumKeys};
    const DType dt = pg::dtype_v<T>;
    pg::PianoParams p = pg::PianoParams::concert_grand(16000.0, dt);
    pg::RenderOptions ro;
    ro.body = ro.room = false;
    ro.max_partials = 4;
    ro.group_size = 2;
    ro.damper_tau = c.tau;
    Tensor gate = pg::from_vector(roll(c, 1, false), s).to(dt);
    if (control_on_device) gate = gate.to(dev);
    auto k = pg::detail::roll_gate_check<T>(p, pg::from_vector(roll(c, 1, true), s).to(dt),
                                            pg::from_vector(std::vector<double>(gate.numel(), 0.5), s).to(dt), gate, c.fr,
                                            c.N, ro, 4);
    const long G = k.compact.gate_size;
    ASSERT_GT(G, 0);
    std::vector<T> cpu(static_cast<size_t>(G));
    k.compact.gates->fill_cpu(k.compact, cpu.data());
    Tensor dgate = pg::Tensor::empty({G}, dt, dev);
    k.compact.gates->fill_cuda(k.compact, dev, dgate.device_data<T>());
    const std::vector<T> gpu = dgate.cpu().to_vector<T>();
    // The device's exp may differ from the host's in the last bit; the edge bounds are bit-identical.
    double err = 0;
    for (size_t i = 0; i < cpu.size(); ++i) err = std::max(err, std::fabs(static_cast<double>(gpu[i]) - static_cast<double>(cpu[i])));
    EXPECT_LE(err, (std::is_same_v<T, double> ? 1e-14 : 1.2e-7)) << "fill";
    const std::vector<double> rc = k.compact.gates->reduce_cpu(k.compact, k.gg.data());
    const Tensor dgg = pg::from_vector(k.gg).to(dev);
    const std::vector<double> rg = k.compact.gates->reduce_cuda(k.compact, dev, dgg.device_data<T>());
    ASSERT_EQ(rg.size(), rc.size());
    double scale = 0;
    err = 0;
    for (size_t i = 0; i < rc.size(); ++i) scale = std::max(scale, std::fabs(rc[i])), err = std::max(err, std::fabs(rg[i] - rc[i]));
    EXPECT_GT(scale, 0.0);
    EXPECT_LE(err, 1e-11 * (1 + scale)) << "reduce (max error " << err << ", scale " << scale << ")";
  }
}

TEST(CudaRollGates, DeviceMatchesCpuDouble) { device_matches_cpu<double>(false); }
TEST(CudaRollGates, DeviceMatchesCpuFloat) { device_matches_cpu<float>(false); }
TEST(CudaRollGates, DeviceControlMatchesCpuDouble) { device_matches_cpu<double>(true); }
TEST(CudaRollGates, DeviceControlMatchesCpuFloat) { device_matches_cpu<float>(true); }

}  // namespace
