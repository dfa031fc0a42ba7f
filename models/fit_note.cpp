// Fitting one key to a recorded note (see fit_note.h for the method and its order of steps).
#include "models/fit_note.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>

#include "autodiff/ops.h"
#include "autodiff/optim/adam.h"
#include "autodiff/optim/schedule.h"
#include "autodiff/tape.h"
#include "synth/audio_io.h"
#include "synth/performance.h"

namespace pianograd {
namespace {

constexpr double kLn2Cent = 0.69314718055994531 / 1200.0;

// ---- validation --------------------------------------------------------------------------------------

void check_inputs(const std::vector<float>& x, double sr, int key, const FitOptions& o) {
  const char* op = "fit_note";
  if (x.empty()) throw ValueError(std::string(op) + ": the target audio is empty");
  if (!(sr > 0 && std::isfinite(sr))) throw ValueError(std::string(op) + ": sample rate must be positive, got " + std::to_string(sr));
  if (key < kMinKey || key > kMaxKey)
    throw ValueError(std::string(op) + ": key " + std::to_string(key) + " outside 21..108");
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i])) throw ValueError(std::string(op) + ": target sample " + std::to_string(i) + " is not finite");
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw ValueError(std::string(op) + ": option " + what);
  };
  need(o.sample_rate == 0.0 || (o.sample_rate >= 1000.0 && std::isfinite(o.sample_rate)), "sample_rate must be 0 or >= 1000 Hz");
  need(o.duration > 0 && std::isfinite(o.duration), "duration must be > 0");
  need(o.pre_roll >= 0 && o.pre_roll < o.duration, "pre_roll must be in [0, duration)");
  need(o.velocity >= 1 && o.velocity <= 127, "velocity must be in 1..127");
  need(o.max_partials >= 0, "max_partials must be >= 0");
  need(o.steps >= 0, "steps must be >= 0");
  need(o.coarse_fraction >= 0 && o.coarse_fraction <= 1, "coarse_fraction must be in [0, 1]");
  need(o.warmup_steps >= 0, "warmup_steps must be >= 0");
  need(o.lr_scale > 0 && std::isfinite(o.lr_scale), "lr_scale must be > 0");
  need(is_floating(o.dtype), "dtype must be f32 or f64");
}

// ---- one key's entries of the parameter tensors -----------------------------------------------------

double get(const PianoParams& P, int id, size_t i) { return P[id].to_vector<double>().at(i); }

void set(PianoParams& P, int id, size_t i, double v) {
  NoGrad ng;
  if (P[id].dtype() == DType::f32) P[id].data<float>()[i] = static_cast<float>(v);
  else P[id].data<double>()[i] = v;
}

// ---- rendering ---------------------------------------------------------------------------------------

Tensor render_note(PianoParams& P, int key, const Tensor& onset, double velocity, long N, const RenderOptions& ro) {
  const DType dt = P.dtype();
  const Tensor off = full({1}, static_cast<double>(N) / ro.sample_rate + 10.0, dt);  // never released
  return render_events(P, from_vector(std::vector<int64_t>{key}), onset, off, full({1}, velocity, dt), Tensor(), N, ro);
}

double distance(const Tensor& y, const Tensor& target) {
  NoGrad ng;
  return multi_resolution_stft_loss(y, target).item();
}

double rms(const Tensor& x) {
  NoGrad ng;
  return std::sqrt(mean(mul(x, x)).item());
}

// ---- step 1: onset -----------------------------------------------------------------------------------

// The first 1 ms frame whose energy is 30 dB below the loudest frame's and 20 dB above the floor (the
// quietest fifth of the frames before the peak): a piano's attack reaches its peak within a few ms, so
// the crossing sits within a frame or two of the hammer strike. The descent refines it.
long detect_onset(const std::vector<float>& x, double sr) {
  const long h = std::max(1L, std::lround(sr * 0.001));
  const long F = static_cast<long>(x.size()) / h;
  if (F < 1) throw ValueError("fit_note: the target is shorter than 1 ms");
  NoGrad ng;
  const Tensor frames = from_vector(std::vector<float>(x.begin(), x.begin() + F * h), {F, h}).to(DType::f64);
  const std::vector<double> e = sum(mul(frames, frames), {1}).to_vector<double>();
  const long pk = static_cast<long>(std::max_element(e.begin(), e.end()) - e.begin());
  const double emax = e[static_cast<size_t>(pk)];
  if (!(emax > 1e-20 * static_cast<double>(h))) throw ValueError("fit_note: the target is silent");
  double floor = 0.0;
  if (pk >= 5) {
    std::vector<double> pre(e.begin(), e.begin() + pk);
    std::nth_element(pre.begin(), pre.begin() + pk / 5, pre.end());
    floor = pre[static_cast<size_t>(pk / 5)];
  }
  const double thr = std::max(emax * 1e-3, floor * 100.0);
  long i = 0;
  while (i < pk && e[static_cast<size_t>(i)] < thr) ++i;
  return i * h;
}

// ---- step 2: pitch and inharmonicity from the spectrum ------------------------------------------------

struct PitchEstimate {
  double f0 = 0, B = 0;
  int found = 0;
};

// Weighted least squares of y = a + b x over (x = p^2, y = (f_p / p)^2): f0 = sqrt(a), B = b / a.
// Weights p: a peak's frequency error is about constant in Hz (bin interpolation) and grows with p
// (unresolved unison strings, cents), so the ratio f_p / p is known about equally well for all p.
bool stiff_string_fit(const std::vector<std::pair<int, double>>& pts, double* f0, double* B) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [p, f] : pts) {
    const double w = p, x = double(p) * p, y = (f / p) * (f / p);
    sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
  }
  const double det = sw * sxx - sx * sx;
  if (!(det > 1e-12 * sw * sxx)) return false;
  const double a = (sxx * sy - sx * sxy) / det, b = (sw * sxy - sx * sy) / det;
  if (!(a > 0) || !(b / a > 1e-7) || !(b / a < 0.1)) return false;
  *f0 = std::sqrt(a);
  *B = b / a;
  return true;
}

PitchEstimate estimate_pitch(const std::vector<float>& seg, double sr, double f0_nom, double B_nom, int max_p) {
  PitchEstimate est{f0_nom, B_nom, 0};
  const long L = static_cast<long>(seg.size()) / 2 * 2;
  if (L < 256) return est;
  // The middle frame of a centred STFT with hop L/2 is exactly the Hann-windowed FFT of the segment.
  std::vector<double> lm;
  {
    NoGrad ng;
    const Tensor mag = stft_magnitude(from_vector(std::vector<float>(seg.begin(), seg.begin() + L)).to(DType::f64), L, L / 2);
    lm = mag.select(0, 1).to_vector<double>();
  }
  double top = -1e300;
  for (double& v : lm) top = std::max(top, v = std::log(v + 1e-30));
  const double bw = sr / static_cast<double>(L);  // Hz per bin
  const long nb = static_cast<long>(lm.size());
  auto peak_near = [&](double f, double half, bool strict, double* fpk, double* level) {
    const long lo = std::max(1L, static_cast<long>(std::floor((f - half) / bw)));
    const long hi = std::min(nb - 2, static_cast<long>(std::ceil((f + half) / bw)));
    if (hi - lo < 2) return false;
    long best = lo;
    for (long i = lo; i <= hi; ++i) if (lm[static_cast<size_t>(i)] > lm[static_cast<size_t>(best)]) best = i;
    *level = lm[static_cast<size_t>(best)];
    if (strict) {
      if (best == lo || best == hi) return false;  // rising into the window's edge: not this partial's peak
      std::vector<double> w(lm.begin() + lo, lm.begin() + hi + 1);
      std::nth_element(w.begin(), w.begin() + static_cast<long>(w.size() / 2), w.end());
      // A peak 20 dB over the window's median and no more than 70 dB under the spectrum's top.
      if (*level < w[w.size() / 2] + std::log(10.0) || *level < top - std::log(std::pow(10.0, 70.0 / 20.0))) return false;
    }
    // Parabolic interpolation of the log magnitude (Smith & Serra 1987): sub-bin accuracy for a Hann window.
    const double a = lm[static_cast<size_t>(best - 1)], b = lm[static_cast<size_t>(best)], c = lm[static_cast<size_t>(best + 1)];
    const double den = a - 2 * b + c;
    const double d = den < 0 ? std::clamp(0.5 * (a - c) / den, -0.5, 0.5) : 0.0;
    *fpk = (static_cast<double>(best) + d) * bw;
    return true;
  };
  const double fmax = 0.45 * sr;
  auto partial = [](double f0, double B, int p) { return p * f0 * std::sqrt(1.0 + B * p * p); };
  // Coarse: the harmonic sum of the first six partials' log peaks over +-60 cents, 1-cent steps, picks
  // the basin (robust to a weak fundamental and to the strike position's missing partials).
  double best_score = -1e300, best_f0 = f0_nom;
  for (int c = -60; c <= 60; ++c) {
    const double f0 = f0_nom * std::pow(2.0, c / 1200.0);
    double score = 0, fp = 0, lv = 0;
    for (int p = 1; p <= std::min(6, max_p) && partial(f0, B_nom, p) < fmax; ++p)
      if (peak_near(partial(f0, B_nom, p), 2.5 * bw, false, &fp, &lv)) score += lv;
    if (score > best_score) best_score = score, best_f0 = f0;
  }
  // Fine: partial by partial, each searched around the current law's prediction (+-25 cents, never more
  // than 0.3 of the partial spacing), the law refitted as partials accrue.
  std::vector<std::pair<int, double>> pts;
  double f0 = best_f0, B = B_nom;
  for (int p = 1; p <= max_p; ++p) {
    const double fp = partial(f0, B, p);
    if (!(fp < fmax)) break;
    const double half = std::max(2.5 * bw, std::min(fp * (std::pow(2.0, 25.0 / 1200.0) - 1.0), 0.3 * f0));
    double fm = 0, lv = 0;
    if (!peak_near(fp, half, true, &fm, &lv)) continue;
    pts.emplace_back(p, fm);
    double nf0 = 0, nB = 0;
    if (pts.size() >= 3 && stiff_string_fit(pts, &nf0, &nB)) {
      f0 = nf0, B = nB;
    } else {  // too few partials for the law: f0 from the nominal B
      double s = 0;
      for (const auto& [q, f] : pts) s += f / (q * std::sqrt(1.0 + B * q * q));
      f0 = s / static_cast<double>(pts.size());
    }
  }
  est.found = static_cast<int>(pts.size());
  if (est.found >= 1) est.f0 = f0, est.B = B;
  return est;
}

// ---- the descent -------------------------------------------------------------------------------------

struct Fitted {
  int id;          // parameter id, or -1 for the onset
  double lr;       // Adam step (parameter units per step) at lr_scale 1
  bool frequency;  // held during the coarse stage
};

}  // namespace

double NoteValues::sigma(int p) const {
  const double f = p * f0_hz * std::exp(kLn2Cent * detune_cents[0]) * std::sqrt(1.0 + B * p * p);
  const double w = 2 * M_PI * f;
  return b1 + b3 * w * w;
}

NoteValues note_values(const PianoParams& P, int key, double velocity) {
  if (key < kMinKey || key > kMaxKey) throw ValueError("note_values: key " + std::to_string(key) + " outside 21..108");
  const size_t k = static_cast<size_t>(key - kMinKey);
  NoteValues v;
  v.tuning_cents = get(P, kTuningCents, k);
  v.f0_hz = stretched_et_hz(key) * std::exp(kLn2Cent * v.tuning_cents);
  v.B = std::exp(get(P, kLogB, k));
  v.b1 = std::exp(get(P, kLogB1, k));
  v.b3 = std::exp(get(P, kLogB3, k));
  v.strings = piano_strings(key);
  const std::vector<double> det = P[kDetuneCents].to_vector<double>();
  for (int s = 0; s < v.strings; ++s) v.detune_cents[static_cast<size_t>(s)] = det[3 * k + static_cast<size_t>(s)];
  v.brightness = get(P, kBrightness, k);
  v.cutoff_hz = std::exp(get(P, kLogCutoffHz, k) + v.brightness * (velocity - 64.0) / 63.0);
  v.loudness_db = get(P, kLoudnessDb, k);
  v.strike_position = get(P, kStrikePosition, k);
  return v;
}

FitResult fit_note(const std::vector<float>& target_audio, double sample_rate, int key, const FitOptions& options) {
  if (!options.preset.empty()) return fit_note(target_audio, sample_rate, key, options, PianoParams::load(options.preset));
  const double sr = options.sample_rate > 0 ? options.sample_rate : 16000.0;
  return fit_note(target_audio, sample_rate, key, options, PianoParams::concert_grand(sr, options.dtype));
}

FitResult fit_note(const std::vector<float>& target_audio, double sample_rate, int key, const FitOptions& opt,
                   const PianoParams& initial) {
  const auto t_begin = std::chrono::steady_clock::now();
  check_inputs(target_audio, sample_rate, key, opt);
  initial.validate();
  const double sr = opt.sample_rate > 0 ? opt.sample_rate : initial.ir_sample_rate;
  if ((opt.body || opt.room) && std::fabs(initial.ir_sample_rate - sr) > 1e-9 * sr)
    throw ValueError("fit_note: the preset's impulse responses are sampled at " + std::to_string(initial.ir_sample_rate) +
                     " Hz but the fit runs at " + std::to_string(sr) + " Hz (fit at the preset's rate or turn body/room off)");
  const size_t k = static_cast<size_t>(key - kMinKey);

  // Step 1: the target at the fit rate, its onset, the window.
  std::vector<float> x = std::fabs(sample_rate - sr) > 1e-9 * sr ? resample(target_audio, sample_rate, sr) : target_audio;
  const long onset = detect_onset(x, sr);
  const long pre = std::lround(opt.pre_roll * sr);
  const long begin = std::max(0L, onset - pre);
  const long N = std::min(std::lround(opt.duration * sr), static_cast<long>(x.size()) - begin);
  const long min_n = std::max(2048L, std::lround(0.25 * sr));
  if (N < min_n)
    throw ValueError("fit_note: only " + std::to_string(N) + " samples from the onset on; need at least " +
                     std::to_string(min_n) + " (0.25 s and 2048 samples)");
  FitResult R;
  R.key = key;
  R.sample_rate = sr;
  R.velocity = opt.velocity;
  R.num_samples = N;
  R.target.assign(x.begin() + begin, x.begin() + begin + N);
  R.render_options.sample_rate = sr;
  R.render_options.max_partials = opt.max_partials;
  R.render_options.knock = opt.knock;
  R.render_options.body = opt.body;
  R.render_options.room = opt.room;
  const RenderOptions& ro = R.render_options;
  R.render_onset = static_cast<double>(onset - begin) / sr;
  R.initial = initial.to(initial.dtype());
  PianoParams W = initial.to(opt.dtype);  // the working copy
  const Tensor target = from_vector(R.target).to(opt.dtype);
  Tensor onset_t = full({1}, R.render_onset, opt.dtype);
  auto render_now = [&](PianoParams& P) {
    NoGrad ng;
    return render_note(P, key, onset_t, opt.velocity, N, ro);
  };
  R.before = note_values(W, key, opt.velocity);
  R.distance_before = distance(render_now(W), target);

  // Steps 2-3: pitch and inharmonicity measured, then the level.
  if (opt.init_from_spectrum) {
    const int max_p = opt.max_partials > 0 ? std::min(opt.max_partials, piano_max_partials(key)) : piano_max_partials(key);
    const long L = std::min<long>(N - (onset - begin), std::lround(0.5 * sr));
    const std::vector<float> seg(x.begin() + onset, x.begin() + onset + L);
    const double f0_nom = stretched_et_hz(key) * std::exp(kLn2Cent * R.before.tuning_cents);
    const PitchEstimate pe = estimate_pitch(seg, sr, f0_nom, R.before.B, max_p);
    R.partials_found = pe.found;
    if (pe.found >= 1) {
      // The measured peak of an unresolved unison sits at the strings' mean detune.
      double mean_det = 0;
      for (int s = 0; s < R.before.strings; ++s) mean_det += R.before.detune_cents[static_cast<size_t>(s)];
      mean_det /= R.before.strings;
      set(W, kTuningCents, k, 1200.0 * std::log2(pe.f0 / stretched_et_hz(key)) - mean_det);
      set(W, kLogB, k, std::log(pe.B));
    }
    const double rp = rms(render_now(W)), rt = rms(target);
    if (rp > 0 && rt > 0) set(W, kLoudnessDb, k, get(W, kLoudnessDb, k) + 20.0 * std::log10(rt / rp));
  }
  // The onset to a fraction of a millisecond: a grid search of +-2 ms in 1/8 ms on the small FFTs (the
  // ones that resolve the attack). The onset's own gradient is no use here: the magnitude spectra barely
  // move with a sub-sample shift, and the loss is flat-then-steep in a whole-frame one.
  if (opt.init_from_spectrum) {
    SpectralLossOptions small;
    small.fft_sizes = {256, 128, 64};
    const double t0 = R.render_onset;
    double best_t = t0, best_l = std::numeric_limits<double>::infinity();
    for (int i = -16; i <= 16; ++i) {
      const double t = t0 + i * 1.25e-4;
      if (t < 0) continue;
      NoGrad ng;
      const Tensor o = full({1}, t, opt.dtype);
      const double l = multi_resolution_stft_loss(render_note(W, key, o, opt.velocity, N, ro), target, small).item();
      if (l < best_l) best_l = l, best_t = t;
    }
    R.render_onset = best_t;
    onset_t = full({1}, best_t, opt.dtype);
  }
  R.init = note_values(W, key, opt.velocity);
  R.distance_init = distance(render_now(W), target);

  // Step 4: the descent. Steps in each parameter's own units: Adam moves a parameter by about its lr per
  // step whatever the gradient's scale, so these are "how far per step is sensible" for each quantity.
  // The frequency parameters (measured in step 2) wait for the fine stage: while levels and decays are
  // still off, their weak coupling to the frequencies (the hammer low-pass, Adam's normalised steps)
  // would push the partials out of their basins.
  std::vector<Fitted> fitted = {{kLogB1, 0.03, false},      {kLogB3, 0.03, false},      {kLogCutoffHz, 0.03, false},
                                {kLoudnessDb, 0.2, false},  {kTuningCents, 0.03, true}, {kLogB, 0.005, true}};
  if (opt.fit_detune && piano_strings(key) > 1) fitted.push_back({kDetuneCents, 0.03, true});
  if (opt.fit_strike_position) fitted.push_back({kStrikePosition, 0.002, false});
  if (opt.fit_onset) fitted.push_back({-1, 1e-5, true});
  std::vector<std::unique_ptr<optim::Adam>> opts;
  std::vector<Tensor> leaves;
  for (const Fitted& f : fitted) {
    Tensor& t = f.id < 0 ? onset_t : W[f.id];
    t.requires_grad_(true);
    leaves.push_back(t);
    opts.push_back(std::make_unique<optim::Adam>(std::vector<Tensor>{t}, optim::AdamOptions{f.lr * opt.lr_scale}));
  }
  const optim::WarmupCosineLR schedule(1.0, std::min(opt.warmup_steps, opt.steps), std::max(1, opt.steps), 0.02);
  SpectralLossOptions coarse, fine;
  coarse.fft_sizes = {2048, 1024, 512};
  const int coarse_steps = static_cast<int>(std::lround(opt.coarse_fraction * opt.steps));
  const int strings = piano_strings(key);
  std::vector<double> mean_det0(1, 0.0);
  for (int s = 0; s < strings; ++s) mean_det0[0] += get(W, kDetuneCents, 3 * k + static_cast<size_t>(s)) / strings;
  // The best iterate by the full loss: the initial point or one of the fine stage (whose loss is that of
  // the parameters before the step), so the descent never returns something worse than it started from.
  double best = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best_vals;
  auto snapshot = [&] {
    std::vector<std::vector<double>> v;
    for (const Tensor& t : leaves) v.push_back(t.to_vector<double>());
    return v;
  };
  auto restore = [&](const std::vector<std::vector<double>>& v) {
    for (size_t i = 0; i < leaves.size(); ++i)
      for (size_t j = 0; j < v[i].size(); ++j) {
        NoGrad ng;
        if (leaves[i].dtype() == DType::f32) leaves[i].data<float>()[j] = static_cast<float>(v[i][j]);
        else leaves[i].data<double>()[j] = v[i][j];
      }
  };
  best = R.distance_init;
  best_vals = snapshot();
  for (int step = 0; step < opt.steps; ++step) {
    const bool is_fine = step >= coarse_steps;
    for (size_t i = 0; i < opts.size(); ++i) {
      opts[i]->zero_grad();
      opts[i]->set_lr(fitted[i].lr * opt.lr_scale * schedule.lr_at(step));
    }
    Tensor y = render_note(W, key, onset_t, opt.velocity, N, ro);
    Tensor loss = multi_resolution_stft_loss(y, target, is_fine ? fine : coarse);
    const double lv = loss.item();
    if (!std::isfinite(lv)) throw ValueError("fit_note: the loss became non-finite at step " + std::to_string(step));
    R.loss_history.push_back(lv);
    if (is_fine && lv < best) best = lv, best_vals = snapshot();
    loss.backward();
    for (size_t i = 0; i < opts.size(); ++i)
      if (is_fine || !fitted[i].frequency) opts[i]->step();
    // Projections: the detune keeps its starting mean (the drift moves into the tuning, so the partials
    // stay where the step put them); the strike position and the onset stay physical.
    double drift = 0;
    for (int s = 0; s < strings; ++s) drift += get(W, kDetuneCents, 3 * k + static_cast<size_t>(s)) / strings;
    drift -= mean_det0[0];
    if (drift != 0.0) {
      for (int s = 0; s < strings; ++s)
        set(W, kDetuneCents, 3 * k + static_cast<size_t>(s), get(W, kDetuneCents, 3 * k + static_cast<size_t>(s)) - drift);
      set(W, kTuningCents, k, get(W, kTuningCents, k) + drift);
    }
    set(W, kStrikePosition, k, std::clamp(get(W, kStrikePosition, k), 0.02, 0.5));
    {
      NoGrad ng;
      const double o = std::clamp(onset_t.item(), 0.0, R.render_onset + 0.05);
      if (onset_t.dtype() == DType::f32) onset_t.data<float>()[0] = static_cast<float>(o);
      else onset_t.data<double>()[0] = o;
    }
    R.iterations = step + 1;
    if (opt.on_step) opt.on_step(step, lv);
  }
  for (Tensor& t : leaves) {
    t.zero_grad();
    t.requires_grad_(false);
  }
  double final_d = distance(render_now(W), target);
  if (best < final_d) {
    restore(best_vals);
    final_d = distance(render_now(W), target);
  }
  R.distance_after = final_d;
  R.render_onset = onset_t.item();
  R.onset_seconds = static_cast<double>(begin) / sr + R.render_onset;
  R.fitted = W.to(initial.dtype());
  R.after = note_values(R.fitted, key, opt.velocity);
  R.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_begin).count();
  return R;
}

FitResult fit_note_file(const std::string& path, int key, const FitOptions& options) {
  const Audio a = read_audio(path);
  return fit_note(a.samples, a.sample_rate, key, options);
}

// ---- FitResult's tools -------------------------------------------------------------------------------

namespace {
std::vector<float> render_with(const PianoParams& params, const FitResult& r) {
  if (r.num_samples < 1) throw ValueError("FitResult: no fit has run (empty result)");
  PianoParams p = params;  // shares the tensors; rendering without recording changes nothing
  NoGrad ng;
  const Tensor onset = full({1}, r.render_onset, p.dtype());
  return render_note(p, r.key, onset, r.velocity, r.num_samples, r.render_options).to_vector<float>();
}

std::string key_name(int key) {
  static constexpr const char* kNames[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  return std::string(kNames[key % 12]) + std::to_string(key / 12 - 1);
}
}  // namespace

std::vector<float> FitResult::render_before() const { return render_with(initial, *this); }
std::vector<float> FitResult::render_after() const { return render_with(fitted, *this); }

void FitResult::write_audio_files(const std::string& before_path, const std::string& after_path,
                                  const std::string& target_path) const {
  AudioWriteOptions wo;
  wo.format = SampleFormat::float32;  // no clipping: before/after/target keep their relative levels
  const int rate = static_cast<int>(std::lround(sample_rate));
  auto fmt_for = [&](const std::string& p) {
    AudioWriteOptions o = wo;
    const std::string ext = p.size() >= 5 ? p.substr(p.size() - 5) : p;
    if (ext == ".flac" || ext == ".FLAC") o.format = SampleFormat::pcm24, o.clipping = ClipPolicy::clip;
    return o;
  };
  if (!before_path.empty()) write_audio(before_path, render_before(), rate, fmt_for(before_path));
  if (!after_path.empty()) write_audio(after_path, render_after(), rate, fmt_for(after_path));
  if (!target_path.empty()) write_audio(target_path, target, rate, fmt_for(target_path));
}

std::string FitResult::summary() const {
  std::ostringstream os;
  os << std::setprecision(4);
  os << "key " << key << " (" << key_name(key) << "), fitted at " << sample_rate << " Hz, velocity " << velocity << ": "
     << iterations << " steps in " << std::fixed << std::setprecision(2) << seconds << " s\n";
  os << "onset " << std::setprecision(4) << onset_seconds << " s, " << partials_found << " partials measured\n";
  os << std::defaultfloat << std::setprecision(5);
  os << "spectral distance: before " << distance_before << ", after init " << distance_init << ", after fit "
     << distance_after << "\n";
  auto row = [&](const char* name, double b, double a, const char* unit) {
    os << "  " << std::left << std::setw(16) << name << std::right << std::setw(13) << b << " -> " << std::setw(13) << a
       << " " << unit << "\n";
  };
  row("tuning", before.tuning_cents, after.tuning_cents, "cents");
  row("f0", before.f0_hz, after.f0_hz, "Hz");
  row("B", before.B, after.B, "");
  row("b1", before.b1, after.b1, "1/s");
  row("b3", before.b3, after.b3, "s");
  row("sigma(partial 1)", before.sigma(1), after.sigma(1), "1/s");
  for (int s = 0; s < after.strings; ++s)
    row(("detune[" + std::to_string(s) + "]").c_str(), before.detune_cents[static_cast<size_t>(s)],
        after.detune_cents[static_cast<size_t>(s)], "cents");
  row("cutoff", before.cutoff_hz, after.cutoff_hz, "Hz");
  row("loudness", before.loudness_db, after.loudness_db, "dB");
  row("strike position", before.strike_position, after.strike_position, "");
  return os.str();
}

}  // namespace pianograd
