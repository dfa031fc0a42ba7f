// Conformance cases of the front end's kernels: the batched STFT (frames across SIMD lanes, float,
// power-of-two sizes) against the per-frame KissFFT path it replaces (the same call under the scalar
// ISA), magnitudes and spectra, full and truncated bin ranges; and the harmonic stack against ref::.
// The size is the number of frames, so the last lane group of frames is partial at every width.
#include <bit>
#include <complex>
#include <vector>

#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/harmonic_stack.h"
#include "kernels/cpu/stft.h"

namespace pianograd::kernels::cpu::conformance::detail {
namespace {

struct StftSpec {
  long n_fft, hop;
  bool truncated;  // mag_bins = n_fft / 4: the magnitudes stop below Nyquist
};

std::vector<float> re_im(const std::vector<std::complex<float>>& z) {
  std::vector<float> v;
  v.reserve(2 * z.size());
  for (const auto& c : z) v.push_back(c.real()), v.push_back(c.imag());
  return v;
}

Outcome stft_case(const StftSpec& s, long frames, const StftFn& fn) {
  StftGeometry g;
  g.n_fft = s.n_fft;
  g.hop = s.hop;
  g.length = s.hop * (frames - 1) + 1;  // frames() = frames; short signals reflect at both ends
  g.mag_bins = s.truncated ? s.n_fft / 4 : 0;
  const long batch = 2, nf = batch * g.frames();
  const auto x = uniform<float>(batch * g.length, 31 + frames);
  Guarded<float> mag(nf * g.out_bins());
  std::vector<float> mag0(static_cast<size_t>(mag.size()));
  std::vector<std::complex<float>> spec(static_cast<size_t>(nf * g.bins())), spec0(spec.size());
  fn(x.data(), batch, g, mag.data(), spec.data());
  {
    IsaScope scalar(Isa::scalar);  // the per-frame KissFFT path
    stft_magnitude<float>(x.data(), batch, g, mag0.data(), spec0.data());
  }
  // Two FFTs of n points: O(log n) roundings each, relative to the spectrum's peak.
  const double bound = 16.0 * static_cast<double>(std::bit_width(static_cast<unsigned long>(s.n_fft)));
  Outcome o = ulps_of_scale(mag.data(), mag0.data(), mag.size(), 1, bound, "magnitude");
  o = worst(o, ulps_of_scale(re_im(spec), re_im(spec0), 1, bound, "spectrum (re, im)"));
  return worst(o, guards(mag, "magnitude"));
}

template <class T>
Outcome harmonic_case(long L) {
  const long B = 2, R = 3, S = 5;
  const long shift[S] = {0, 12, 19, -12, L + 3};  // the last: a channel entirely out of range
  const auto x = uniform<T>(B * R * L, 3 + L), gy = uniform<T>(B * S * R * L, 5 + L);
  Guarded<T> y(B * S * R * L), gx(B * R * L);
  std::vector<T> y0(static_cast<size_t>(y.size())), gx0(static_cast<size_t>(gx.size()));
  harmonic_stack_forward<T>(x.data(), B, R, L, shift, S, y.data());
  ref::harmonic_stack_forward<T>(x.data(), B, R, L, shift, S, y0.data());
  harmonic_stack_backward<T>(gy.data(), B, R, L, shift, S, gx.data());
  ref::harmonic_stack_backward<T>(gy.data(), B, R, L, shift, S, gx0.data());
  Outcome o = ulps_each(y.data(), y0.data(), y.size(), 1e-30, 0, "y");  // a gather: exact
  o = worst(o, ulps_of_scale(gx.data(), gx0.data(), gx.size(), 1, 2.0 * S, "gx"));
  return worst(worst(o, guards(y, "y")), guards(gx, "gx"));
}

}  // namespace

void add_spectral_cases(std::vector<Case>& out) {
  for (const StftSpec& s : {StftSpec{16, 4, false}, StftSpec{64, 16, false}, StftSpec{512, 128, false},
                            StftSpec{256, 64, true}}) {
    const std::string name = std::to_string(s.n_fft) + (s.truncated ? "_truncated" : "");
    out.push_back(make_case("stft_magnitude", name, [s](auto, long n) { return stft_case(s, n, &stft_magnitude<float>); }, {203},
                            Precisions::f32_only));
  }
  out.push_back(make_case("harmonic_stack_forward+harmonic_stack_backward", "",
                          [](auto t, long n) { return harmonic_case<decltype(t)>(n); }, {264, 20000}));
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance {

Outcome check_stft(long n_fft, long hop, bool truncated, long frames, const StftFn& fn) {
  return detail::stft_case({n_fft, hop, truncated}, frames, fn);
}

}  // namespace pianograd::kernels::cpu::conformance
