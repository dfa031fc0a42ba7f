// Conformance cases of the modal bank (kernels/cpu/modal.h), the piano's compute core: forward and
// backward of the dispatched kernels against the scalar references, with no damper, with damper gates
// shared by a note's partials (as the renderers build them) and per-mode ones, with and without
// truncation. The size is the number of modes, so the lane groups (W modes x 2 or 4 batches) end at every
// tail; the signal length is no multiple of the 64-sample block. The horizontal sums that turn the
// lanes into samples are where xsimd 8.1's AVX-512 haddp put partials in the wrong samples: an error of
// the order of the signal itself, ~10^7 float epsilons, against bounds of ~10^3.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/modal.h"

namespace pianograd::kernels::cpu::conformance::detail {
namespace {

enum class Damping { none, notes, modes };

template <class T>
struct Bank {
  std::vector<T> omega, sigma, dgain, amp, delta, gate;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  long rows = 0, n = 0;
  ModalBank<T> view() const {
    return {static_cast<long>(omega.size()), omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
            start.data(), env.data()};
  }
};

// Notes of up to 8 partials share a start (some of them the same sample) and, when damped, one gate
// row and one damper gain; Damping::modes gives every mode its own gain and scatters the rows, so
// batches mix rows. Gates rise smoothly after a release inside the window, to a plateau.
template <class T>
Bank<T> make_bank(long modes, Damping damping, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Bank<T> b;
  b.n = 200 + 13 * modes + 7;
  b.rows = damping == Damping::none ? 0 : 3;
  const long notes = 1 + (modes - 1) / 8;
  std::vector<long> note_start(static_cast<size_t>(notes));
  for (auto& s : note_start) s = static_cast<long>(u(rng) * 0.6 * static_cast<double>(b.n));
  for (long m = 0; m < modes; ++m) {
    const long note = m / 8;
    const double f0 = 0.02 + 0.4 * u(rng);
    b.omega.push_back(static_cast<T>(std::min(3.0, f0 * static_cast<double>(1 + m % 8))));
    b.sigma.push_back(static_cast<T>(2e-3 * u(rng)));
    b.amp.push_back(static_cast<T>((2 * u(rng) - 1) / (1 + m % 8)));
    b.delta.push_back(static_cast<T>(u(rng)));
    b.start.push_back(note_start[static_cast<size_t>(note)] + (m % 3 == 2 ? static_cast<long>(u(rng) * 90) : 0));
    switch (damping) {
      case Damping::none: b.dgain.push_back(T(0)), b.env.push_back(-1); break;
      case Damping::notes: b.dgain.push_back(T(0.05)), b.env.push_back(static_cast<std::int32_t>(note % 3)); break;
      case Damping::modes:
        b.dgain.push_back(static_cast<T>(0.08 * u(rng)));
        b.env.push_back(static_cast<std::int32_t>(m % 4) - 1);  // -1: this mode is never damped
        break;
    }
  }
  b.gate.assign(static_cast<size_t>(b.rows * b.n), T(0));
  for (long r = 0; r < b.rows; ++r) {
    const long rel = static_cast<long>((0.3 + 0.5 * u(rng)) * static_cast<double>(b.n));
    const double tau = 5 + 40 * u(rng);
    for (long t = rel; t < b.n; ++t) b.gate[static_cast<size_t>(r * b.n + t)] = static_cast<T>(0.7 * std::min(1.0, (t - rel) / (3 * tau)));
  }
  return b;
}

// The recurrence's rounding grows with the samples it runs: bounds in epsilons of the output's scale,
// ~4x the largest error measured on SSE2, AVX2 and AVX-512 (float 51, double 55 at 837 samples).
template <class T>
double modal_bound(long n) {
  return per_type<T>(128 + static_cast<double>(n) / 8, 256 + static_cast<double>(n) / 4);
}

template <class T>
Outcome forward_case(Damping damping, double rel_threshold, long modes, const ModalForwardFn<T>& fn) {
  const Bank<T> b = make_bank<T>(modes, damping, 1000 + static_cast<std::uint64_t>(modes));
  ModalOptions o;
  o.rel_threshold = rel_threshold;
  Guarded<T> y(b.n);
  std::vector<T> y0(static_cast<size_t>(b.n));
  fn(b.view(), b.gate.data(), b.rows, b.n, y.data(), o, nullptr);
  ref::modal_forward<T>(b.view(), b.gate.data(), b.rows, b.n, y0.data(), o);
  return worst(ulps_of_scale(y.data(), y0.data(), b.n, 1e-3, modal_bound<T>(b.n), "y"), guards(y, "y"));
}

template <class T>
Outcome backward_case(Damping damping, double rel_threshold, long modes, const ModalBackwardFn<T>& fn) {
  const Bank<T> b = make_bank<T>(modes, damping, 2000 + static_cast<std::uint64_t>(modes));
  ModalOptions o;
  o.rel_threshold = rel_threshold;
  o.checkpoint = 128;
  const auto gy = uniform<T>(b.n, 3000 + modes);
  const long m = static_cast<long>(b.omega.size());
  struct Out {
    std::vector<Guarded<T>> g;
    ModalGrads<T> view() {
      return {g[0].data(), g[1].data(), g[2].data(), g[3].data(), g[4].data(), g[5].size() ? g[5].data() : nullptr};
    }
  };
  auto make = [&] { return Out{{Guarded<T>(m), Guarded<T>(m), Guarded<T>(m), Guarded<T>(m), Guarded<T>(m),
                                Guarded<T>(b.rows * b.n)}}; };
  Out got = make(), want = make();
  fn(b.view(), b.gate.data(), b.rows, b.n, gy.data(), got.view(), o, nullptr);
  ref::modal_backward<T>(b.view(), b.gate.data(), b.rows, b.n, gy.data(), want.view(), o);
  const char* names[] = {"d/domega", "d/dsigma", "d/ddgain", "d/damp", "d/ddelta", "d/dgate"};
  Outcome out;
  for (size_t k = 0; k < 6; ++k) {
    out = worst(out, ulps_of_scale(got.g[k].data(), want.g[k].data(), got.g[k].size(), 1, modal_bound<T>(b.n), names[k]));
    out = worst(out, guards(got.g[k], names[k]));
  }
  return out;
}

}  // namespace

void add_modal_cases(std::vector<Case>& out) {
  struct Spec { const char* name; Damping damping; double thr; };
  for (const Spec& s : {Spec{"held", Damping::none, 1e-3}, Spec{"damped_notes", Damping::notes, 1e-3},
                        Spec{"damped_modes", Damping::modes, 1e-4}, Spec{"untruncated", Damping::notes, 0}}) {
    // 700 modes x 9307 samples: enough work for the kernels' OpenMP split.
    out.push_back(make_case("modal_forward", s.name, [s](auto t, long n) {
      using T = decltype(t);
      return forward_case<T>(s.damping, s.thr, n, &modal_forward<T>);
    }, {130, 700}));
    out.push_back(make_case("modal_backward", s.name, [s](auto t, long n) {
      using T = decltype(t);
      return backward_case<T>(s.damping, s.thr, n, &modal_backward<T>);
    }, {130}));
  }
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance {

template <class T>
Outcome check_modal_forward(int damping, double rel_threshold, long modes, const ModalForwardFn<T>& fn) {
  return detail::forward_case<T>(static_cast<detail::Damping>(damping), rel_threshold, modes, fn);
}
template <class T>
Outcome check_modal_backward(int damping, double rel_threshold, long modes, const ModalBackwardFn<T>& fn) {
  return detail::backward_case<T>(static_cast<detail::Damping>(damping), rel_threshold, modes, fn);
}
template Outcome check_modal_forward<float>(int, double, long, const ModalForwardFn<float>&);
template Outcome check_modal_forward<double>(int, double, long, const ModalForwardFn<double>&);
template Outcome check_modal_backward<float>(int, double, long, const ModalBackwardFn<float>&);
template Outcome check_modal_backward<double>(int, double, long, const ModalBackwardFn<double>&);

}  // namespace pianograd::kernels::cpu::conformance
