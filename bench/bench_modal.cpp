// The modal-bank kernel on a 10-note chord at 16 kHz, 1 s (issue 4 targets: forward >= 300x real time,
// forward+backward >= 50x, >= 30% of the AVX2 peak of 32 flop/cycle, one thread).
//
// The mode list is built from plausible concert-grand numbers (DESIGN.md §4): stretched partials
// p f0 sqrt(1 + B p^2) with B(m) = exp(0.0926 m - 13.64) + exp(-0.0847 m - 5.82) (Rigaud et al.,
// DAFx-11), 2-3 strings detuned by ~1 cent, up to 30 partials below Nyquist, decay sigma = b1 + b3 w^2
// (b1 = 0.5 1/s, b3 = 6.25e-9 s, w in rad/s: T60 ~ 9 s at 1 kHz, Chaigne & Askenfelt 1994), strike
// comb sin(pi p / 8), onsets humanised over 15 ms (fractional delays), one damper gate per note.
//
// Counters: rtf (audio seconds per compute second), mode_samples/s (samples actually played by a
// mode, start to truncation end), GFLOP/s at 6 flop per mode-sample for the forward (complex
// multiply) and 27 for forward+backward (forward 6, recompute 6, adjoint step 7, the two
// conj(a) z accumulations 8), and pct_peak against 32 flop/cycle x the clock from /proc/cpuinfo.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/modal.h"

namespace {
using namespace pianograd::kernels::cpu;

constexpr double kSr = 16000;
constexpr long kN = 16000;

struct Chord {
  std::vector<float> omega, sigma, dgain, amp, delta, gate;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  long rows = 0;
  ModalBank<float> view() const {
    return {static_cast<long>(omega.size()), omega.data(), sigma.data(), dgain.data(), amp.data(),
            delta.data(), start.data(), env.data()};
  }
};

// release_s < 0: keys held for the whole second.
Chord make_chord(double release_s) {
  const int keys[10] = {36, 43, 48, 52, 55, 60, 64, 67, 72, 76};
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  Chord c;
  c.rows = 10;
  c.gate.assign(static_cast<size_t>(c.rows * kN), 0.f);
  for (int k = 0; k < 10; ++k) {
    const int key = keys[k];
    const double f0 = 440.0 * std::pow(2.0, (key - 69) / 12.0);
    const double B = std::exp(0.0926 * key - 13.64) + std::exp(-0.0847 * key - 5.82);
    const int strings = key < 40 ? 2 : 3;
    const double onset = 0.015 * u(rng) * kSr;  // samples
    const long st = static_cast<long>(std::ceil(onset));
    for (int s = 0; s < strings; ++s) {
      const double detune = std::pow(2.0, (s - (strings - 1) / 2.0) * 1.0 / 1200.0);
      for (int p = 1; p <= 30; ++p) {
        const double f = p * f0 * detune * std::sqrt(1 + B * p * p);
        if (f >= 0.45 * kSr) break;
        const double w = 2 * M_PI * f;
        c.omega.push_back(static_cast<float>(w / kSr));
        c.sigma.push_back(static_cast<float>((0.5 + 6.25e-9 * w * w) / kSr));
        c.dgain.push_back(static_cast<float>(60.0 / kSr));  // T60 ~ 0.1 s once the damper is down
        c.amp.push_back(static_cast<float>(std::sin(M_PI * p / 8.0) / p / strings));
        c.delta.push_back(static_cast<float>(st - onset));
        c.start.push_back(st);
        c.env.push_back(k);
      }
    }
    if (release_s >= 0) {
      const long rel = static_cast<long>(release_s * kSr);
      for (long t = rel; t < kN; ++t) c.gate[k * kN + t] = static_cast<float>(1 - std::exp(-(t - rel) / 80.0));
    }
  }
  return c;
}

double clock_ghz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("cpu MHz", 0) == 0) return std::stod(line.substr(line.find(':') + 1)) / 1000.0;
  return 0;
}

long played_mode_samples(const Chord& c) {
  IsaScope scope(best_isa());  // the scalar path keeps no tape
  ModalTape<float> tape;
  std::vector<float> y(kN);
  modal_forward(c.view(), c.gate.data(), c.rows, kN, y.data(), {}, &tape);
  long total = 0;
  for (size_t m = 0; m < c.start.size(); ++m) total += std::max<long>(0, tape.end[m] - c.start[m]);
  return total;
}

void set_counters(benchmark::State& st, long mode_samples, double flop_per_ms, int threads) {
  st.counters["rtf"] = benchmark::Counter(kN / kSr, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["mode_samples/s"] =
      benchmark::Counter(static_cast<double>(mode_samples), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GFLOP/s"] = benchmark::Counter(mode_samples * flop_per_ms * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const double ghz = clock_ghz();
  if (ghz > 0)
    st.counters["pct_peak"] = benchmark::Counter(mode_samples * flop_per_ms / (32.0 * ghz * 1e9 * threads) * 100,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// range(0): 0 held, 1 released at 0.5 s; range(1): 0 scalar reference, 1 the active ISA (--isa);
// range(2): threads (0 = all).
void run(benchmark::State& st, bool backward) {
  const Chord c = make_chord(st.range(0) ? 0.5 : -1);
  const bool simd = st.range(1) != 0;
  IsaScope scope(simd ? active_isa() : Isa::scalar);
  const int prev = omp_get_max_threads();
  const int threads = st.range(2) > 0 ? static_cast<int>(st.range(2)) : omp_get_num_procs();
  omp_set_num_threads(threads);
  const long ms = played_mode_samples(c);
  std::vector<float> y(kN), gy(kN, 1e-3f);
  std::vector<float> g[5];
  for (auto& v : g) v.resize(c.omega.size());
  std::vector<float> gg(c.gate.size());
  const ModalGrads<float> grads{g[0].data(), g[1].data(), g[2].data(), g[3].data(), g[4].data(), gg.data()};
  ModalTape<float> tape;
  for (auto _ : st) {
    modal_forward(c.view(), c.gate.data(), c.rows, kN, y.data(), {}, backward ? &tape : nullptr);
    if (backward) modal_backward(c.view(), c.gate.data(), c.rows, kN, gy.data(), grads, {}, &tape);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(gg.data());
  }
  omp_set_num_threads(prev);
  set_counters(st, ms, backward ? 27.0 : 6.0, threads);
  st.counters["modes"] = static_cast<double>(c.omega.size());
  st.SetLabel(std::string(isa_name(active_isa())) + (st.range(0) ? ", released at 0.5 s" : ", held"));
}

void BM_modal_chord_forward(benchmark::State& st) { run(st, false); }
void BM_modal_chord_forward_backward(benchmark::State& st) { run(st, true); }

#define PG_MODAL_ARGS                                                                     \
  ArgNames({"released", "simd", "threads"})                                               \
      ->Args({0, 1, 1})->Args({1, 1, 1})->Args({0, 0, 1})->Args({1, 1, 0})->Unit(benchmark::kMillisecond)
BENCHMARK(BM_modal_chord_forward)->PG_MODAL_ARGS;
BENCHMARK(BM_modal_chord_forward_backward)->PG_MODAL_ARGS;

}  // namespace
