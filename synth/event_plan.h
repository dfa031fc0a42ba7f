// Internal to the event renderer (event_renderer.cpp): one item's plan — notes as strikes, their modes,
// the damper gates d(t) = (1 - pedal(t)) sigmoid((t - offset) / tau) with their tabulated sigmoids, the
// groups of notes the modal kernel runs over, and what the forward keeps for the backward.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "kernels/common/event_gate_math.h"
#include "kernels/cpu/modal.h"
#include "synth/event_renderer.h"
#include "synth/modal_group.h"
#include "synth/mode_builder.h"

namespace pianograd::detail {

template <class T>
struct EventPlan {
  ModeBuildOptions mopt;
  RenderOptions ropt;
  PianoParamValues pv;
  std::vector<Strike> strikes;      // one per note, env = note index
  std::vector<double> offsets;
  ModeSet<T> modes;
  std::vector<long> mode_begin, mode_end, life_end;  // per note
  std::vector<double> pedal;        // per sample (empty: pedal up)
  std::vector<double> pedal_frames; // the input when given per frame
  bool pedal_per_sample = true;
  T threshold = 0;                  // absolute truncation threshold (of the whole bank)
  long N = 0;
  struct Group {
    long w0 = 0, w1 = 0;
    std::vector<long> notes;
  };
  std::vector<Group> groups;
  // Per group: the forward's checkpoints, kept for the backward while within ropt.tape_budget_bytes
  // (null: the backward recomputes them with a forward sweep).
  std::vector<std::unique_ptr<kernels::cpu::ModalTape<T>>> tapes;
  // Per group: the forward's sub-bank and gate rows, kept with its tape (same budget) so that the
  // backward does not rebuild them (null: rebuilt).
  std::vector<std::shared_ptr<const GroupBank<T>>> banks;

  double pedal_at(long n) const { return pedal.empty() ? 0.0 : pedal[static_cast<size_t>(n)]; }
  // The release sigmoid, saturated to exactly 0 / 1 beyond 30 tau (where it is within 1e-13 of them):
  // the modal kernel runs blocks of constant gate on constant poles, without an exp per sample.
  // (kernels/common/event_gate_math.h: the compact gate source evaluates the same function.)
  double sig_raw(long n, size_t j) const {
    return kernels::event_sigmoid_raw(n, mopt.sample_rate, offsets[j], ropt.damper_tau);
  }
  // Per note, the unsaturated stretch [sig_lo, sig_hi) (within [0, N)) tabulated once: the forward's gate
  // rows, the lifetimes and the backward all read it (60 tau x sr doubles per note, 30 KB at 16 kHz).
  // A stretch longer than kMaxSigTab (a damper_tau of seconds) is not tabulated but evaluated per sample;
  // so is every stretch when tabulate_sigmoids(false) (the packed route: the gate source writes the rows).
  static constexpr long kMaxSigTab = 1L << 17;
  std::vector<long> sig_lo, sig_hi;
  std::vector<std::vector<double>> sig_tab;
  double sig(long n, size_t j) const {
    if (n < sig_lo[j]) return 0.0;
    if (n >= sig_hi[j]) return 1.0;
    return sig_tab[j].empty() ? sig_raw(n, j) : sig_tab[j][static_cast<size_t>(n - sig_lo[j])];
  }
  double gate(long n, size_t j) const { return kernels::event_gate_value(sig(n, j), pedal_at(n)); }
  // Fills sig_lo/hi/tab: the window from the closed form, settled against sig_raw (monotone in n), so
  // sig() is bit-identical to sig_raw() at every sample. table = false: only the bounds.
  void tabulate_sigmoids(bool table = true) {
    const size_t J = offsets.size();
    sig_lo.assign(J, 0);
    sig_hi.assign(J, 0);
    sig_tab.assign(J, {});
    const double sr = mopt.sample_rate, tau = ropt.damper_tau;
    for (size_t j = 0; j < J; ++j) {
      const double a = std::floor((offsets[j] - 30.0 * tau) * sr) - 2, b = std::floor((offsets[j] + 30.0 * tau) * sr) - 2;
      long l = static_cast<long>(std::clamp(a, 0.0, static_cast<double>(N)));
      long h = static_cast<long>(std::clamp(b, 0.0, static_cast<double>(N)));
      while (l < N && sig_raw(l, j) == 0.0) ++l;
      while (l > 0 && sig_raw(l - 1, j) != 0.0) --l;
      h = std::max(h, l);
      while (h < N && sig_raw(h, j) != 1.0) ++h;
      while (h > l && sig_raw(h - 1, j) == 1.0) --h;
      sig_lo[j] = l;
      sig_hi[j] = h;
      if (!table || h - l > kMaxSigTab) continue;
      sig_tab[j].resize(static_cast<size_t>(h - l));
      for (long n = l; n < h; ++n) sig_tab[j][static_cast<size_t>(n - l)] = sig_raw(n, j);
    }
  }
  // out[n - n0] = gate(n, j) for n in [n0, n1), skipping the exp and division where sig saturates. The
  // caller zeroes out first when `zeroed` (then the leading zeros are not written).
  template <class U>
  void gate_row(size_t j, long n0, long n1, U* out, bool zeroed) const {
    const long lo = std::clamp(sig_lo[j], n0, n1), hi = std::clamp(sig_hi[j], lo, n1);
    if (!zeroed) std::fill(out, out + (lo - n0), U(0));
    for (long n = lo; n < hi; ++n) out[n - n0] = static_cast<U>(gate(n, j));
    if (pedal.empty()) {
      std::fill(out + (hi - n0), out + (n1 - n0), U(1));
    } else {
      const double* pd = pedal.data();
      for (long n = hi; n < n1; ++n) out[n - n0] = static_cast<U>(kernels::event_gate_value(1.0, pd[n]));
    }
  }
};

// One batch item's plan (event_renderer.cpp; float and double): strikes, modes, gates' sigmoid bounds,
// life ends and groups. packed: the packed route's plan (no sigmoid tables, as the compact gate source
// writes the rows; life ends bounded in advance by event_life.h instead of note_lifetimes' per-sample sums).
template <class T>
std::shared_ptr<EventPlan<T>> make_event_plan(const PianoParams& params, const Tensor& keys, const Tensor& onsets,
                                              const Tensor& offsets, const Tensor& velocities, const Tensor& pedal,
                                              int64_t num_samples, const RenderOptions& ro, bool packed);

}  // namespace pianograd::detail
