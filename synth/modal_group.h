// Internal to the renderers: one group of strikes gathered into a windowed modal bank, so the kernel
// runs over [w0, w1) only. Shared by the event and roll renderers, which differ in how they fill the
// damper-gate rows (b.gate, rows x W, zero-initialised here unless the caller's gates are compact:
// modal_packed.h's GateSource writes them where the bank runs).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/modal.h"
#include "synth/mode_builder.h"

namespace pianograd::detail {

// How far (in nats) a mode of amplitude amp must decay before it is provably below half the absolute
// truncation threshold. The renderers' life ends rest on log |z[n]| <= log amp - sigma (n - start) -
// g sum d: a mode is silent once sigma (n - start) + g sum d reaches this; the factor 2 is the margin for
// float rounding. <= 0: the mode starts below it.
inline double decay_needed(double amp, double threshold) { return std::log(std::fabs(amp) / threshold) + std::log(2.0); }

// The CPU path's life end of one strike (modes [mb, me), starting together): walking from the start in
// chunks of 1024 samples, add_gate(n, e, G) adds to G the strike's damper gate over the chunk that ends at
// e (the renderer decides the exact samples); the strike ends one kernel block after the first chunk
// end at which every mode has decayed by decay_needed, capped at N. 0 for a strike without modes, N
// without a threshold.
template <class T, class AddGate>
long chunked_life_end(const ModeSet<T>& modes, long mb, long me, T threshold, long N, AddGate add_gate) {
  if (mb == me) return 0;
  if (threshold <= 0) return N;
  const long start = modes.start[static_cast<size_t>(mb)];
  struct Need {
    double sigma, g, need;
  };
  std::vector<Need> need;
  for (long m = mb; m < me; ++m) {
    const size_t u = static_cast<size_t>(m);
    const double nd = decay_needed(static_cast<double>(modes.amp[u]), static_cast<double>(threshold));
    if (nd > 0)  // undamped modes (env < 0: the knock) see no gate
      need.push_back({static_cast<double>(modes.sigma[u]), modes.env[u] < 0 ? 0.0 : static_cast<double>(modes.dgain[u]), nd});
  }
  long n = start;
  double G = 0;
  constexpr long kChunk = 1024;
  while (n < N && !need.empty()) {
    const long e = std::min(N, n + kChunk);
    add_gate(n, e, G);
    n = e;
    const double t = static_cast<double>(n - start);
    need.erase(std::remove_if(need.begin(), need.end(), [&](const Need& q) { return q.sigma * t + q.g * G >= q.need; }),
               need.end());
  }
  return std::min(N, n + kernels::kModalBlock);
}

template <class T>
struct GroupBank {
  std::vector<long> index;  // global mode index of each local mode
  std::vector<T> omega, sigma, dgain, amp, delta, gate;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  // Per local mode, the window-relative sample it is scanned to (<= W), or empty: every mode to W. Set
  // only on the packed route, where a mode cannot be truncated on the fly (the GPU scan): its strike's
  // life end, from which the mode is provably below the truncation threshold.
  std::vector<long> end;
  long rows = 0, W = 0;
  kernels::cpu::ModalOptions mo;
  kernels::cpu::ModalBank<T> bank() const {
    return {static_cast<long>(omega.size()), omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
            start.data(), env.data()};
  }
};

// The modes of the strikes `rows` (indices into mode_begin/mode_end), shifted into the window that
// starts at w0, each damped by its own gate row; the truncation threshold is rescaled so the group
// truncates at the same absolute level (`threshold`) as the whole bank would.
template <class T>
GroupBank<T> gather_group(const ModeSet<T>& modes, const std::vector<long>& mode_begin,
                          const std::vector<long>& mode_end, const std::vector<long>& rows, long w0, long w1,
                          T threshold, long checkpoint, bool gate_rows = true) {
  GroupBank<T> b;
  b.rows = static_cast<long>(rows.size());
  b.W = w1 - w0;
  T amax = 0;
  for (long r = 0; r < b.rows; ++r) {
    const size_t j = static_cast<size_t>(rows[static_cast<size_t>(r)]);
    for (long m = mode_begin[j]; m < mode_end[j]; ++m) {
      const size_t u = static_cast<size_t>(m);
      b.index.push_back(m);
      b.omega.push_back(modes.omega[u]);
      b.sigma.push_back(modes.sigma[u]);
      b.dgain.push_back(modes.dgain[u]);
      b.amp.push_back(modes.amp[u]);
      b.delta.push_back(modes.delta[u]);
      b.start.push_back(modes.start[u] - w0);
      b.env.push_back(modes.env[u] < 0 ? -1 : static_cast<std::int32_t>(r));
      amax = std::max(amax, static_cast<T>(std::fabs(modes.amp[u])));
    }
  }
  b.mo.rel_threshold = amax > 0 ? static_cast<double>(threshold) / static_cast<double>(amax) : 0.0;
  b.mo.checkpoint = checkpoint;
  if (gate_rows) b.gate.assign(static_cast<size_t>(b.rows * b.W), T(0));
  return b;
}

}  // namespace pianograd::detail
