// Concert-grand defaults for the piano's physical parameters, and preset files.
#include "synth/piano_params.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>

#include "autodiff/checkpoint.h"
#include "autodiff/tape.h"
#include "synth/performance.h"

namespace pianograd {
namespace {

constexpr const char* kNames[kNumPianoParams] = {
    "tuning_cents", "log_B",        "detune_cents",     "log_b1",          "log_b3",   "strike_position",
    "log_cutoff_hz", "brightness",  "loudness_db",      "loudness_range_db", "log_damper_rate", "knock_db",
    "knock_log_freq", "knock_log_decay", "knock_gain",  "body_ir",         "room_ir"};
constexpr const char* kFormat = "pianograd.piano_params/1";

Tensor per_key(DType dt, double (*f)(int key)) {
  std::vector<double> v(kNumKeys);
  for (int k = 0; k < kNumKeys; ++k) v[static_cast<size_t>(k)] = f(kMinKey + k);
  return from_vector(v).to(dt);
}

// A deterministic hash of the key in [0, 1): per-key variety in the unison detuning that does not
// depend on any random generator's implementation.
double key_hash(int key) {
  std::uint32_t h = static_cast<std::uint32_t>(key) * 2654435761u;
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  return static_cast<double>(h % 10007u) / 10007.0;
}

// Unison detuning (cents) of string s: spread d between 0.3 and 1.5 cents, "a few tenths of a cent to
// about 2 cents" in tuned pianos (Weinreich 1977), asymmetric for three strings so that the beating
// partials do not cancel exactly.
double default_detune(int key, int s) {
  const int n = piano_strings(key);
  const double d = 0.3 + 1.2 * key_hash(key);
  if (n == 1) return 0.0;
  if (n == 2) return s == 0 ? -0.5 * d : (s == 1 ? 0.5 * d : 0.0);
  static constexpr double kThree[3] = {-0.5, 0.1, 0.5};
  return kThree[s] * d;
}

// The body: a direct path plus a handful of low-Q resonances standing in for the soundboard's
// low-frequency modes (a learnable starting point, 25 ms long).
std::vector<double> default_body_ir(double sr) {
  const long n = std::max<long>(1, std::lround(0.025 * sr));
  std::vector<double> h(static_cast<size_t>(n), 0.0);
  h[0] = 1.0;
  static constexpr double kF[6] = {90, 160, 270, 420, 650, 1000};
  for (double f : kF) {
    if (f >= 0.45 * sr) continue;
    const double sigma = 6.9078 / 0.015;  // T60 = 15 ms: broad resonances
    for (long i = 1; i < n; ++i) {
      const double t = static_cast<double>(i) / sr;
      h[static_cast<size_t>(i)] += 0.004 * (16000.0 / sr) * std::exp(-sigma * t) * std::sin(2 * M_PI * f * t);
    }
  }
  return h;
}

// The room: direct sound at tap 0 and, after a 10 ms pre-delay, an exponentially decaying noise tail
// with T60 = 1 s (a modest hall), darkened by a one-pole low-pass (air and wall absorption grow with
// frequency), its energy 12 dB below the direct sound. Deterministic: a fixed-seed mt19937, whose
// output sequence the C++ standard specifies exactly.
std::vector<double> default_room_ir(double sr) {
  const double t60 = 1.0;
  const long n = std::max<long>(2, std::lround(1.2 * t60 * sr));
  const long pre = std::lround(0.010 * sr);
  std::vector<double> h(static_cast<size_t>(n), 0.0);
  std::mt19937 rng(20240611u);
  const double a = std::exp(-2 * M_PI * 4000.0 / sr);  // one-pole low-pass at ~4 kHz
  double lp = 0.0, energy = 0.0;
  for (long i = pre; i < n; ++i) {
    const double u = (static_cast<double>(rng()) + 0.5) / 4294967296.0 * 2.0 - 1.0;
    lp = a * lp + (1 - a) * u;
    const double t = static_cast<double>(i - pre) / sr;
    h[static_cast<size_t>(i)] = lp * std::exp(-6.9078 * t / t60);
    energy += h[static_cast<size_t>(i)] * h[static_cast<size_t>(i)];
  }
  const double wet = std::pow(10.0, -12.0 / 20.0) / std::sqrt(std::max(energy, 1e-30));
  for (long i = pre; i < n; ++i) h[static_cast<size_t>(i)] *= wet;
  h[0] = 1.0;
  return h;
}

Shape expected_shape(int id) {
  switch (id) {
    case kDetuneCents: return {kNumKeys, 3};
    case kKnockLogFreq: case kKnockLogDecay: case kKnockGain: return {kNumKnockModes};
    case kBodyIr: case kRoomIr: return {-1};
    default: return {kNumKeys};
  }
}

}  // namespace

const char* piano_param_name(int id) {
  if (id < 0 || id >= kNumPianoParams) throw IndexError("piano_param_name: id " + std::to_string(id) + " out of range");
  return kNames[id];
}

int piano_strings(int key) { return key <= 30 ? 1 : (key <= 40 ? 2 : 3); }

int piano_max_partials(int key) {
  // 100 at A0, halving every 18 semitones: ~22 at C4, ~6 at A6, 4 at C8.
  const double p = 100.0 * std::pow(2.0, -(key - kMinKey) / 18.0);
  return static_cast<int>(std::clamp(std::lround(p), 4L, 100L));
}

double stretched_et_hz(int key) {
  // A cubic in (key - 69) with zero slope and curvature at A4, steeper in the treble (where the
  // octaves are stretched more): coefficients fitted to -30 cents at A0 and +35 cents at C8.
  const double x = key - 69.0;
  const double cents = x < 0 ? 2.71e-4 * x * x * x : 5.9e-4 * x * x * x;
  return 440.0 * std::pow(2.0, x / 12.0 + cents / 1200.0);
}

double default_inharmonicity(int key) {
  return std::exp(0.0926 * key - 13.64) + std::exp(-0.0847 * key - 5.82);
}

PianoParams PianoParams::concert_grand(double sample_rate, DType dt) {
  if (!(sample_rate >= 1000.0 && std::isfinite(sample_rate)))
    throw ValueError("PianoParams::concert_grand: sample rate must be >= 1000 Hz, got " + std::to_string(sample_rate));
  if (!is_floating(dt)) throw DTypeError(std::string("PianoParams::concert_grand: expected f32/f64, got ") + dtype_name(dt));
  NoGrad ng;
  PianoParams P;
  P[kTuningCents] = zeros({kNumKeys}, dt);  // in tune with the stretched scale
  P[kLogB] = per_key(dt, [](int k) { return std::log(default_inharmonicity(k)); });
  std::vector<double> det(kNumKeys * 3);
  for (int k = 0; k < kNumKeys; ++k)
    for (int s = 0; s < 3; ++s) det[static_cast<size_t>(3 * k + s)] = s < piano_strings(kMinKey + k) ? default_detune(kMinKey + k, s) : 0.0;
  P[kDetuneCents] = from_vector(det, {kNumKeys, 3}).to(dt);
  // sigma = b1 + b3 w^2 with b1 = 0.5 1/s, b3 = 6.25e-9 s: T60 = ln(1000)/sigma ~ 9 s at 1 kHz and
  // ~ 1 s at 5 kHz (Chaigne & Askenfelt 1994, J. Acoust. Soc. Am. 95(2)).
  P[kLogB1] = full({kNumKeys}, std::log(0.5), dt);
  P[kLogB3] = full({kNumKeys}, std::log(6.25e-9), dt);
  // Hammers strike at about 1/8 of the speaking length (standard piano design): sin(pi p / 8) removes
  // the 8th, 16th, ... partials.
  P[kStrikePosition] = full({kNumKeys}, 0.125, dt);
  // Hammer low-pass: contact times shorten towards the treble (felt and hammer mass fall, Chaigne &
  // Askenfelt 1994), so the cutoff rises from 600 Hz at A0 by an octave every 2 octaves (~7.4 kHz at C8);
  // brightness log(4): the cutoff doubles from mezzo-forte to fortissimo (a harder felt, F = K d^p).
  P[kLogCutoffHz] = per_key(dt, [](int k) { return std::log(600.0) + std::log(2.0) * (k - kMinKey) / 24.0; });
  P[kBrightness] = full({kNumKeys}, std::log(4.0), dt);
  // Loudness: -20 dB at velocity 127 (leaves headroom for chords) over a 40 dB velocity range, about
  // the dynamic range of a grand from pp to ff.
  P[kLoudnessDb] = full({kNumKeys}, -20.0, dt);
  P[kLoudnessRangeDb] = full({kNumKeys}, 40.0, dt);
  // Dampers stop a note in ~0.15 s (T60), i.e. an extra 46 1/s; the top 20 keys (above E6, MIDI 88) of
  // a grand have no dampers at all, which a tiny rate reproduces.
  P[kLogDamperRate] = per_key(dt, [](int k) { return k > 88 ? std::log(1e-3) : std::log(6.9078 / 0.15); });
  // The knock (hammer-on-string and key-bed thump) is a few dB stronger, relative to the tone, in the
  // treble where the tone itself is weaker.
  P[kKnockDb] = per_key(dt, [](int k) { return -30.0 + 14.0 * (k - kMinKey) / 87.0; });
  P[kKnockLogFreq] = from_vector(std::vector<double>{std::log(95.0), std::log(180.0), std::log(330.0), std::log(600.0)}).to(dt);
  P[kKnockLogDecay] = from_vector(std::vector<double>{std::log(6.9078 / 0.08), std::log(6.9078 / 0.06),
                                                      std::log(6.9078 / 0.04), std::log(6.9078 / 0.03)}).to(dt);
  P[kKnockGain] = from_vector(std::vector<double>{1.0, 0.7, 0.5, 0.35}).to(dt);
  P.set_default_irs(sample_rate);
  return P;
}

void PianoParams::set_default_irs(double sample_rate) {
  if (!(sample_rate >= 1000.0 && std::isfinite(sample_rate)))
    throw ValueError("PianoParams::set_default_irs: sample rate must be >= 1000 Hz, got " + std::to_string(sample_rate));
  NoGrad ng;
  const DType dt = tensors[0].defined() ? tensors[0].dtype() : DType::f32;
  tensors[kBodyIr] = from_vector(default_body_ir(sample_rate)).to(dt);
  tensors[kRoomIr] = from_vector(default_room_ir(sample_rate)).to(dt);
  ir_sample_rate = sample_rate;
}

std::vector<Tensor> PianoParams::parameters() {
  std::vector<Tensor> out;
  for (int i = 0; i < kNumPianoParams; ++i) {
    if (frozen[static_cast<size_t>(i)]) continue;
    tensors[static_cast<size_t>(i)].requires_grad_(true);
    out.push_back(tensors[static_cast<size_t>(i)]);
  }
  return out;
}

void PianoParams::zero_grad() {
  for (auto& t : tensors)
    if (t.defined()) t.zero_grad();
}

PianoParams PianoParams::to(DType dt) const {
  validate();
  NoGrad ng;
  PianoParams P;
  for (int i = 0; i < kNumPianoParams; ++i) P[i] = tensors[static_cast<size_t>(i)].detach().to(dt).clone().detach();
  P.frozen = frozen;
  P.ir_sample_rate = ir_sample_rate;
  return P;
}

void PianoParams::validate() const {
  const DType dt = tensors[0].defined() ? tensors[0].dtype() : DType::f32;
  for (int i = 0; i < kNumPianoParams; ++i) {
    const Tensor& t = tensors[static_cast<size_t>(i)];
    const std::string what = std::string("PianoParams: ") + kNames[i];
    if (!t.defined()) throw ValueError(what + " is undefined");
    if (!is_floating(t.dtype())) throw DTypeError(what + ": expected f32/f64, got " + dtype_name(t.dtype()));
    if (t.dtype() != dt)
      throw DTypeError(what + ": dtype " + dtype_name(t.dtype()) + " differs from tuning_cents' " + dtype_name(dt));
    const Shape want = expected_shape(i);
    const bool ok = want[0] < 0 ? (t.dim() == 1 && t.numel() >= 1) : t.shape() == want;
    if (!ok) throw ShapeError(what + ": expected shape " + (want[0] < 0 ? std::string("[K>=1]") : shape_str(want)) +
                              ", got " + shape_str(t.shape()));
    for (double v : t.to_vector<double>())
      if (!std::isfinite(v)) throw ValueError(what + ": non-finite value");
  }
  if (!(ir_sample_rate >= 1000.0 && std::isfinite(ir_sample_rate)))
    throw ValueError("PianoParams: ir_sample_rate must be >= 1000 Hz, got " + std::to_string(ir_sample_rate));
}

void PianoParams::save(const std::string& path) const {
  validate();
  std::map<std::string, Tensor> named;
  std::string frozen_list;
  for (int i = 0; i < kNumPianoParams; ++i) {
    named[kNames[i]] = tensors[static_cast<size_t>(i)].detach();
    if (frozen[static_cast<size_t>(i)]) {
      if (!frozen_list.empty()) frozen_list += ',';
      frozen_list += kNames[i];
    }
  }
  std::ostringstream sr;
  sr.precision(17);
  sr << ir_sample_rate;
  save_safetensors(path, named, {{"format", kFormat}, {"ir_sample_rate", sr.str()}, {"frozen", frozen_list}});
}

PianoParams PianoParams::load(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  PianoParams P;
  for (int i = 0; i < kNumPianoParams; ++i) {
    auto it = f.tensors.find(kNames[i]);
    if (it == f.tensors.end()) throw ValueError("PianoParams::load: " + path + ": missing tensor \"" + kNames[i] + "\"");
    P[i] = it->second;
  }
  auto fmt = f.metadata.find("format");
  if (fmt != f.metadata.end() && fmt->second != kFormat)
    throw ValueError("PianoParams::load: " + path + ": unsupported format \"" + fmt->second + "\", expected " + kFormat);
  auto sr = f.metadata.find("ir_sample_rate");
  if (sr == f.metadata.end()) throw ValueError("PianoParams::load: " + path + ": metadata lacks ir_sample_rate");
  try {
    P.ir_sample_rate = std::stod(sr->second);
  } catch (const std::exception&) {
    throw ValueError("PianoParams::load: " + path + ": bad ir_sample_rate \"" + sr->second + "\"");
  }
  auto fr = f.metadata.find("frozen");
  if (fr != f.metadata.end()) {
    std::stringstream ss(fr->second);
    std::string name;
    while (std::getline(ss, name, ','))
      for (int i = 0; i < kNumPianoParams; ++i)
        if (name == kNames[i]) P.frozen[static_cast<size_t>(i)] = true;
  }
  P.validate();
  return P;
}

}  // namespace pianograd
