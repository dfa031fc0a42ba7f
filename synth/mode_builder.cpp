// Strikes -> modes, and the chain rule back (see mode_builder.h and the model in piano_params.h).
//
// Derivatives used by backprop_modes, per string mode (key k, string s, partial p, strike j):
//   f = p f0 ds sqrt(1 + B p^2):  d log f / d tuning = d log f / d detune = ln2/1200,
//                                 d log f / d log B  = B p^2 / (2 (1 + B p^2))
//   omega = 2 pi f / sr,  sigma = (b1 + b3 W^2) / sr with W = 2 pi f,  dgain = damper / sr
//   amp = c sin(pi p beta), c = scale G L / (p S), G = 10^(dB(v)/20), L = 1 / (1 + r), r = (f/fc)^2
//     d log L / d log f = -2r/(1+r),   d log L / d log fc = 2r/(1+r)
//     d log G / d loudness_db = ln10/20,  d log G / d loudness_range_db = ln10/20 (v/127 - 1)
//     d log G / dv = ln10/20 range/127,   d log fc / dv = brightness/63
//   so dL/d log f = dL/domega omega + dL/dsigma 2 b3 W^2 / sr - dL/damp amp 2r/(1+r),
//   and dL/d onset = -sr dL/d delta (start is locally constant).
// Knock mode q: omega = 2 pi exp(lf_q) / sr, sigma = exp(ld_q) / sr, amp = scale G 10^(kdb_k/20) g_q.
#include "synth/mode_builder.h"

#include <cmath>
#include <string>

#include "autodiff/tape.h"
#include "synth/performance.h"

namespace pianograd {
namespace {

constexpr double kLn2Cent = 0.69314718055994531 / 1200.0;
constexpr double kLn10Db = 2.302585092994046 / 20.0;

// Per-strike quantities shared by its modes.
struct StrikeCtx {
  int k = 0;            // key index 0..87
  int strings = 1, partials = 1;
  double f0 = 0, B = 0, b1 = 0, b3 = 0, damper = 0, beta = 0;
  double G = 0;         // loudness gain (without scale)
  double fc = 0;        // hammer low-pass cutoff (Hz)
  double knock = 0;     // 10^(knock_db/20)
};

StrikeCtx strike_ctx(const PianoParamValues& pv, const Strike& st, const ModeBuildOptions& opt) {
  StrikeCtx c;
  c.k = st.key - kMinKey;
  const size_t k = static_cast<size_t>(c.k);
  c.strings = piano_strings(st.key);
  c.partials = piano_max_partials(st.key);
  if (opt.max_partials > 0) c.partials = std::min(c.partials, opt.max_partials);
  c.f0 = stretched_et_hz(st.key) * std::exp(kLn2Cent * pv[kTuningCents][k]);
  c.B = std::exp(pv[kLogB][k]);
  c.b1 = std::exp(pv[kLogB1][k]);
  c.b3 = std::exp(pv[kLogB3][k]);
  c.damper = std::exp(pv[kLogDamperRate][k]);
  c.beta = pv[kStrikePosition][k];
  c.G = std::exp(kLn10Db * (pv[kLoudnessDb][k] + pv[kLoudnessRangeDb][k] * (st.velocity / 127.0 - 1.0)));
  c.fc = std::exp(pv[kLogCutoffHz][k] + pv[kBrightness][k] * (st.velocity - 64.0) / 63.0);
  c.knock = std::exp(kLn10Db * pv[kKnockDb][k]);
  return c;
}

double string_ratio(const PianoParamValues& pv, const StrikeCtx& c, int s) {
  return std::exp(kLn2Cent * pv[kDetuneCents][static_cast<size_t>(3 * c.k + s)]);
}

void validate_strike(const Strike& st, size_t i) {
  const std::string who = "build_modes: strike " + std::to_string(i) + ": ";
  if (st.key < kMinKey || st.key > kMaxKey)
    throw ValueError(who + "key " + std::to_string(st.key) + " outside 21..108");
  if (!(std::isfinite(st.onset) && st.onset >= 0)) throw ValueError(who + "onset must be finite and >= 0, got " + std::to_string(st.onset));
  if (!std::isfinite(st.velocity)) throw ValueError(who + "velocity must be finite");
  if (!std::isfinite(st.scale)) throw ValueError(who + "amplitude scale must be finite");
}

bool skipped(const Strike& st, const ModeBuildOptions& opt, long* start, double* delta) {
  if (std::fabs(st.scale) <= opt.min_scale || st.scale == 0.0) return true;
  const double s = st.onset * opt.sample_rate;
  const double cs = std::ceil(s);
  if (opt.num_samples > 0 && cs >= static_cast<double>(opt.num_samples)) return true;
  *start = static_cast<long>(cs);
  *delta = cs - s;
  return false;
}

}  // namespace

PianoParamValues piano_param_values(const PianoParams& params) {
  params.validate();
  PianoParamValues v;
  for (int i = 0; i < kNumModeParams; ++i) v[static_cast<size_t>(i)] = params[i].to_vector<double>();
  return v;
}

PianoParamValues zero_param_values() {
  PianoParamValues v;
  for (int i = 0; i < kNumModeParams; ++i) {
    const size_t n = i == kDetuneCents ? 3 * kNumKeys : (i >= kKnockLogFreq ? kNumKnockModes : kNumKeys);
    v[static_cast<size_t>(i)].assign(n, 0.0);
  }
  return v;
}

template <class T>
ModeSet<T> build_modes(const PianoParamValues& pv, const std::vector<Strike>& strikes, const ModeBuildOptions& opt) {
  if (!(opt.sample_rate > 0 && std::isfinite(opt.sample_rate)))
    throw ValueError("build_modes: sample rate must be positive, got " + std::to_string(opt.sample_rate));
  ModeSet<T> m;
  const double sr = opt.sample_rate, fmax = opt.nyquist_fraction * sr;
  auto push = [&](double omega, double sigma, double dgain, double amp, long start, double delta, std::int32_t env,
                  size_t j, int partial, int s) {
    m.omega.push_back(static_cast<T>(omega));
    m.sigma.push_back(static_cast<T>(sigma));
    m.dgain.push_back(static_cast<T>(dgain));
    m.amp.push_back(static_cast<T>(amp));
    m.delta.push_back(static_cast<T>(delta));
    m.start.push_back(start);
    m.env.push_back(env);
    m.strike.push_back(static_cast<std::int32_t>(j));
    m.partial.push_back(static_cast<std::int16_t>(partial));
    m.string.push_back(static_cast<std::int8_t>(s));
  };
  for (size_t j = 0; j < strikes.size(); ++j) {
    const Strike& st = strikes[j];
    validate_strike(st, j);
    long start = 0;
    double delta = 0;
    if (skipped(st, opt, &start, &delta)) continue;
    const StrikeCtx c = strike_ctx(pv, st, opt);
    // The same expressions in two passes: the strike's strongest partial, then the partials above
    // partial_floor of it.
    auto each_partial = [&](auto&& fn) {
      for (int s = 0; s < c.strings; ++s) {
        const double ds = string_ratio(pv, c, s);
        for (int p = 1; p <= c.partials; ++p) {
          const double f = p * c.f0 * ds * std::sqrt(1.0 + c.B * p * p);
          if (!(f < fmax)) break;  // f grows with p: never at or above Nyquist
          const double W = 2 * M_PI * f, r = (f / c.fc) * (f / c.fc);
          fn(s, p, W, st.scale * c.G * std::sin(M_PI * p * c.beta) / (p * (1.0 + r) * c.strings));
        }
      }
    };
    double floor_amp = 0;
    if (opt.partial_floor > 0) {
      each_partial([&](int, int, double, double amp) { floor_amp = std::max(floor_amp, std::fabs(amp)); });
      floor_amp *= opt.partial_floor;
    }
    each_partial([&](int s, int p, double W, double amp) {
      if (std::fabs(amp) < floor_amp) {
        ++m.trimmed;
        return;
      }
      push(W / sr, (c.b1 + c.b3 * W * W) / sr, c.damper / sr, amp, start, delta, st.env, j, p, s);
    });
    if (!opt.knock) continue;
    for (int q = 0; q < kNumKnockModes; ++q) {
      const double f = std::exp(pv[kKnockLogFreq][static_cast<size_t>(q)]);
      if (!(f < fmax)) continue;
      const double amp = st.scale * c.G * c.knock * pv[kKnockGain][static_cast<size_t>(q)];
      // The knock is the soundboard's thump, not a string: the damper does not act on it (env -1).
      push(2 * M_PI * f / sr, std::exp(pv[kKnockLogDecay][static_cast<size_t>(q)]) / sr, 0.0, amp, start, delta, -1, j,
           -1 - q, 0);
    }
  }
  return m;
}

template <class T>
void backprop_modes(const PianoParamValues& pv, const std::vector<Strike>& strikes, const ModeSet<T>& modes,
                    const ModeBuildOptions& opt, const T* g_omega, const T* g_sigma, const T* g_dgain,
                    const T* g_amp, const T* g_delta, PianoParamValues& g, std::vector<StrikeGrad>& sg) {
  if (sg.size() != strikes.size()) sg.resize(strikes.size());
  const double sr = opt.sample_rate;
  auto at = [](const T* p, long i) { return p ? static_cast<double>(p[i]) : 0.0; };
  long i = 0;
  const long M = modes.size();
  while (i < M) {
    const size_t j = static_cast<size_t>(modes.strike[static_cast<size_t>(i)]);
    const Strike& st = strikes[j];
    const StrikeCtx c = strike_ctx(pv, st, opt);
    const size_t k = static_cast<size_t>(c.k);
    const double range = pv[kLoudnessRangeDb][k], bright = pv[kBrightness][k];
    double g_loga = 0, g_onset = 0, g_scale = 0;  // d/d log amplitude, summed over the strike's modes
    double g_logfc = 0;                           // d/d log cutoff
    for (; i < M && static_cast<size_t>(modes.strike[static_cast<size_t>(i)]) == j; ++i) {
      const size_t ui = static_cast<size_t>(i);
      const double go = at(g_omega, i), gs = at(g_sigma, i), gd = at(g_dgain, i), ga = at(g_amp, i);
      g_onset += -sr * at(g_delta, i);
      const int p = modes.partial[ui];
      if (p < 0) {  // knock mode q
        const size_t q = static_cast<size_t>(-1 - p);
        const double kg = pv[kKnockGain][q];
        const double unit = c.G * c.knock;  // amp = scale * unit * kg
        const double amp = st.scale * unit * kg;
        g[kKnockLogFreq][q] += go * 2 * M_PI * std::exp(pv[kKnockLogFreq][q]) / sr;
        g[kKnockLogDecay][q] += gs * std::exp(pv[kKnockLogDecay][q]) / sr;
        g[kKnockGain][q] += ga * st.scale * unit;
        g[kKnockDb][k] += ga * amp * kLn10Db;
        g_loga += ga * amp;
        g_scale += ga * unit * kg;
        continue;
      }
      const int s = modes.string[ui];
      const double ds = string_ratio(pv, c, s);
      const double sq = 1.0 + c.B * p * p;
      const double f = p * c.f0 * ds * std::sqrt(sq);
      const double W = 2 * M_PI * f, r = (f / c.fc) * (f / c.fc);
      const double comb = std::sin(M_PI * p * c.beta);
      const double unit = c.G / (p * (1.0 + r) * c.strings);  // amp = scale * unit * comb
      const double amp = st.scale * unit * comb;
      const double dlogL = 2 * r / (1 + r);
      const double g_logf = go * W / sr + gs * 2 * c.b3 * W * W / sr - ga * amp * dlogL;
      g[kTuningCents][k] += g_logf * kLn2Cent;
      g[kDetuneCents][3 * k + static_cast<size_t>(s)] += g_logf * kLn2Cent;
      g[kLogB][k] += g_logf * c.B * p * p / (2 * sq);
      g[kLogB1][k] += gs * c.b1 / sr;
      g[kLogB3][k] += gs * c.b3 * W * W / sr;
      g[kLogDamperRate][k] += gd * c.damper / sr;
      g[kStrikePosition][k] += ga * st.scale * unit * M_PI * p * std::cos(M_PI * p * c.beta);
      g_loga += ga * amp;
      g_logfc += ga * amp * dlogL;
      g_scale += ga * unit * comb;
    }
    g[kLoudnessDb][k] += g_loga * kLn10Db;
    g[kLoudnessRangeDb][k] += g_loga * kLn10Db * (st.velocity / 127.0 - 1.0);
    g[kLogCutoffHz][k] += g_logfc;
    g[kBrightness][k] += g_logfc * (st.velocity - 64.0) / 63.0;
    sg[j].onset += g_onset;
    sg[j].velocity += g_loga * kLn10Db * range / 127.0 + g_logfc * bright / 63.0;
    sg[j].scale += g_scale;
  }
}

#define PG_MODE_BUILDER_INST(T)                                                                               \
  template ModeSet<T> build_modes<T>(const PianoParamValues&, const std::vector<Strike>&, const ModeBuildOptions&); \
  template void backprop_modes<T>(const PianoParamValues&, const std::vector<Strike>&, const ModeSet<T>&,         \
                                  const ModeBuildOptions&, const T*, const T*, const T*, const T*, const T*,        \
                                  PianoParamValues&, std::vector<StrikeGrad>&);
PG_MODE_BUILDER_INST(float)
PG_MODE_BUILDER_INST(double)
#undef PG_MODE_BUILDER_INST

}  // namespace pianograd
