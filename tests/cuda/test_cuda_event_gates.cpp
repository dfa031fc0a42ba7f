// The event renderer's compact gates on a CUDA device (kernels/cuda/event_gate.cu) against their CPU
// reference (synth/event_gates.cpp, itself proven equal to the renderer's former dense rows in
// tests/synth/test_event_gates.cpp): fill_cuda == fill_cpu and reduce_cuda == reduce_cpu on the same
// packed bank, float and double, items with and without a pedal, rows of every kind (released past the
// end, before the onset, cut short). Skips with "no CUDA device" without a GPU.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "cuda_test.h"
#include "synth/event_gates.h"
#include "synth/event_plan.h"
#include "synth/modal_packed.h"

namespace {

using pg::detail::EventGateSource;
using pg::detail::EventPlan;
using pg::detail::GroupBank;
using pg::detail::PackedBank;

struct Note {
  long start;
  double off;
  long end;
};

// B items of N samples, two notes per window, windows from each group's first start (64-sample grid).
template <class T>
struct Bank {
  PackedBank<T> pk;
  std::shared_ptr<EventGateSource<T>> src;
  Bank(long N, double sr, double tau, unsigned seed) {
    src = std::make_shared<EventGateSource<T>>(N, sr, tau);
    pk.gates = src;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const double len_s = static_cast<double>(N) / sr;
    for (long b = 0; b < 5; ++b) {
      std::vector<Note> notes;
      for (int k = 0; k < 7; ++k) {
        const long s = static_cast<long>(u(rng) * 0.8 * static_cast<double>(N));
        const double kind = u(rng);
        const double off = kind < 0.15   ? len_s + 1.0                               // past the end
                           : kind < 0.3  ? static_cast<double>(s) / sr - 0.01        // before the onset
                                         : static_cast<double>(s) / sr + u(rng) * 0.5;
        notes.push_back({s, off, u(rng) < 0.2 ? s + static_cast<long>(u(rng) * 3000) : N});
      }
      std::sort(notes.begin(), notes.end(), [](const Note& x, const Note& y) { return x.start < y.start; });
      EventPlan<T> P;
      P.N = N;
      P.mopt.sample_rate = sr;
      P.ropt.damper_tau = tau;
      for (const Note& n : notes) P.offsets.push_back(n.off);
      P.tabulate_sigmoids(false);
      std::vector<double> pedal;
      if (b % 2 == 1) {
        pedal.resize(static_cast<size_t>(N));
        for (double& v : pedal) v = u(rng) < 0.3 ? 0.0 : u(rng);
      }
      src->add_item(pedal);
      for (size_t j0 = 0; j0 < notes.size(); j0 += 2) {
        const size_t j1 = std::min(notes.size(), j0 + 2);
        const long w0 = notes[j0].start / 64 * 64;
        GroupBank<T> g;
        g.rows = static_cast<long>(j1 - j0);
        g.W = N - w0;
        for (size_t j = j0; j < j1; ++j) {
          g.omega.push_back(T(0.1));
          g.start.push_back(notes[j].start - w0);
          g.env.push_back(static_cast<std::int32_t>(j - j0));
          src->add_row(notes[j].off, P.sig_lo[j], P.sig_hi[j], notes[j].start, notes[j].end);
        }
        g.sigma = g.dgain = g.amp = g.delta = std::vector<T>(g.omega.size(), T(0));
        pk.append(g, b * N + w0);
      }
    }
    pk.n = 5 * N;
  }
};

template <class T>
void check_source(double tau) {
  const pg::Device dev = pg::kCUDA;
  Bank<T> B(20000, 16000.0, tau, 9);
  const long G = B.pk.gate_size;
  ASSERT_GT(G, 0);
  std::vector<T> host(static_cast<size_t>(G));
  B.src->fill_cpu(B.pk, host.data());
  Tensor gate = Tensor::empty({G}, pg::dtype_v<T>, dev);
  B.src->fill_cuda(B.pk, dev, gate.device_data<T>());
  const std::vector<T> got = gate.cpu().to_vector<T>();
  // The device's exp may round differently: a few ulps of T (the value is computed in double, then cast).
  const double eps = std::numeric_limits<T>::epsilon();
  for (long i = 0; i < G; ++i) {
    const double a = got[static_cast<size_t>(i)], b = host[static_cast<size_t>(i)];
    ASSERT_LE(std::fabs(a - b), 4 * eps * std::fabs(b) + 1e-300) << "packed sample " << i;
  }

  std::mt19937 rng(3);
  std::normal_distribution<double> nd;
  std::vector<T> gg(static_cast<size_t>(G));
  for (T& v : gg) v = static_cast<T>(nd(rng));
  const std::vector<double> ref = B.src->reduce_cpu(B.pk, gg.data());
  const Tensor gg_dev = pg::from_vector(gg).to(dev);
  const std::vector<double> out = B.src->reduce_cuda(B.pk, dev, gg_dev.device_data<T>());
  ASSERT_EQ(out.size(), ref.size());
  ASSERT_GT(static_cast<long>(ref.size()), B.pk.rows());  // some items have a pedal gradient
  double scale = 0;
  for (double v : ref) scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 0.0);
  // Sums of the same double terms in another association (block reduce + atomics).
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(out[i], ref[i], 1e-11 * scale) << "reduced gradient " << i;
}

TEST(CudaEventGates, FillAndReduceMatchCpuFloat) {
  PG_REQUIRE_GPU();
  check_source<float>(0.004);
}

TEST(CudaEventGates, FillAndReduceMatchCpuDouble) {
  PG_REQUIRE_GPU();
  check_source<double>(0.004);
  check_source<double>(0.05);  // long release stretches: most samples inside the sigmoid
}

}  // namespace
