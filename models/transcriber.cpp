// The transcription model: network (forward_all), checkpoints and chunked inference. See transcriber.h.
#include "models/transcriber.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "autodiff/checkpoint.h"
#include "autodiff/errors.h"
#include "models/json_fields.h"
#include "autodiff/nn/init.h"
#include "autodiff/ops.h"
#include "synth/audio_io.h"

namespace pianograd {

namespace {
using json = nlohmann::json;
constexpr const char* kConfigKey = "transcriber_config";

void require(bool ok, const std::string& what) {
  if (!ok) throw ValueError("TranscriberConfig: " + what);
}
}  // namespace

FrontendConfig TranscriberConfig::frontend() const {
  FrontendConfig f;
  f.sample_rate = sample_rate;
  f.hop = hop;
  f.n_fft = n_fft;
  f.harmonics = harmonics;
  f.floor = log_floor;
  return f;
}

void TranscriberConfig::validate() const {
  require(std::isfinite(sample_rate) && sample_rate > 0, "sample_rate must be positive, got " + std::to_string(sample_rate));
  require(hop >= 1, "hop must be >= 1, got " + std::to_string(hop));
  require(n_fft >= 2 && n_fft % 2 == 0, "n_fft must be even and >= 2, got " + std::to_string(n_fft));
  require(!harmonics.empty(), "harmonics must not be empty");
  for (double h : harmonics) require(std::isfinite(h) && h > 0, "harmonics must be positive, got " + std::to_string(h));
  for (int64_t c : conv_channels) require(c >= 1, "conv_channels must be >= 1, got " + std::to_string(c));
  require(key_channels >= 1, "key_channels must be >= 1");
  require(key_context_channels >= 1, "key_context_channels must be >= 1");
  require(key_kernel >= 1 && key_kernel % 2 == 1, "key_kernel must be odd, got " + std::to_string(key_kernel));
  require(temporal_channels >= 1, "temporal_channels must be >= 1");
  require(temporal_kernel >= 1 && temporal_kernel % 2 == 1,
          "temporal_kernel must be odd, got " + std::to_string(temporal_kernel));
  for (int64_t d : temporal_dilations) require(d >= 1, "temporal_dilations must be >= 1, got " + std::to_string(d));
  require(frame_channels >= 1, "frame_channels must be >= 1");
  require(pedal_channels >= 0, "pedal_channels must be >= 0, got " + std::to_string(pedal_channels));
  require(pedal_kernel >= 1 && pedal_kernel % 2 == 1, "pedal_kernel must be odd, got " + std::to_string(pedal_kernel));
  require(pedal_channels == 0 || !pedal_dilations.empty(), "pedal_dilations must not be empty with a pedal head");
  for (int64_t d : pedal_dilations) require(d >= 1, "pedal_dilations must be >= 1, got " + std::to_string(d));
  require(velocity_channels >= 0, "velocity_channels must be >= 0, got " + std::to_string(velocity_channels));
  require(velocity_readout >= 1, "velocity_readout must be >= 1, got " + std::to_string(velocity_readout));
  require(velocity_kernel >= 1 && velocity_kernel % 2 == 1,
          "velocity_kernel must be odd, got " + std::to_string(velocity_kernel));
  require(velocity_channels == 0 || !velocity_dilations.empty(),
          "velocity_dilations must not be empty with a velocity branch");
  for (int64_t d : velocity_dilations) require(d >= 1, "velocity_dilations must be >= 1, got " + std::to_string(d));
  require(refine_channels >= 0, "refine_channels must be >= 0, got " + std::to_string(refine_channels));
  require(refine_readout >= 1, "refine_readout must be >= 1, got " + std::to_string(refine_readout));
  require(refine_kernel >= 1 && refine_kernel % 2 == 1, "refine_kernel must be odd, got " + std::to_string(refine_kernel));
  require(refine_channels == 0 || !refine_dilations.empty(), "refine_dilations must not be empty with a refinement branch");
  for (int64_t d : refine_dilations) require(d >= 1, "refine_dilations must be >= 1, got " + std::to_string(d));
  require(std::isfinite(log_floor) && log_floor > 0, "log_floor must be positive");
  require(std::isfinite(chunk_seconds) && std::isfinite(context_seconds) && context_seconds >= 0 &&
              chunk_seconds > 2 * context_seconds,
          "chunk_seconds must exceed 2 * context_seconds >= 0");
}

std::string TranscriberConfig::to_json() const {
  json j = {{"sample_rate", sample_rate},
            {"hop", hop},
            {"n_fft", n_fft},
            {"harmonics", harmonics},
            {"conv_channels", conv_channels},
            {"key_channels", key_channels},
            {"key_kernel", key_kernel},
            {"key_context_channels", key_context_channels},
            {"temporal_channels", temporal_channels},
            {"temporal_kernel", temporal_kernel},
            {"temporal_dilations", temporal_dilations},
            {"frame_channels", frame_channels},
            {"pedal_channels", pedal_channels},
            {"pedal_kernel", pedal_kernel},
            {"pedal_dilations", pedal_dilations},
            {"velocity_channels", velocity_channels},
            {"velocity_readout", velocity_readout},
            {"velocity_kernel", velocity_kernel},
            {"velocity_dilations", velocity_dilations},
            {"velocity_key_position", velocity_key_position},
            {"refine_channels", refine_channels},
            {"refine_readout", refine_readout},
            {"refine_kernel", refine_kernel},
            {"refine_dilations", refine_dilations},
            {"log_floor", log_floor},
            {"chunk_seconds", chunk_seconds},
            {"context_seconds", context_seconds},
            {"piece_loudness", piece_loudness},
            {"seed", seed}};
  return j.dump();
}

TranscriberConfig TranscriberConfig::from_json(const std::string& text) {
  TranscriberConfig c;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw ValueError(std::string("TranscriberConfig.from_json: malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw ValueError("TranscriberConfig.from_json: expected a JSON object");
  for (const auto& [key, v] : j.items()) {
    try {
      if (key == "sample_rate") c.sample_rate = v.get<double>();
      else if (key == "hop") c.hop = json_fields::integer(v);
      else if (key == "n_fft") c.n_fft = json_fields::integer(v);
      else if (key == "harmonics") c.harmonics = v.get<std::vector<double>>();
      else if (key == "conv_channels") c.conv_channels = json_fields::integers(v);
      else if (key == "key_channels") c.key_channels = json_fields::integer(v);
      else if (key == "key_kernel") c.key_kernel = json_fields::integer(v);
      else if (key == "key_context_channels") c.key_context_channels = json_fields::integer(v);
      else if (key == "temporal_channels") c.temporal_channels = json_fields::integer(v);
      else if (key == "temporal_kernel") c.temporal_kernel = json_fields::integer(v);
      else if (key == "temporal_dilations") c.temporal_dilations = json_fields::integers(v);
      else if (key == "frame_channels") c.frame_channels = json_fields::integer(v);
      else if (key == "pedal_channels") c.pedal_channels = json_fields::integer(v);
      else if (key == "pedal_kernel") c.pedal_kernel = json_fields::integer(v);
      else if (key == "pedal_dilations") c.pedal_dilations = json_fields::integers(v);
      else if (key == "velocity_channels") c.velocity_channels = json_fields::integer(v);
      else if (key == "velocity_readout") c.velocity_readout = json_fields::integer(v);
      else if (key == "velocity_kernel") c.velocity_kernel = json_fields::integer(v);
      else if (key == "velocity_dilations") c.velocity_dilations = json_fields::integers(v);
      else if (key == "velocity_key_position") c.velocity_key_position = v.get<bool>();
      else if (key == "refine_channels") c.refine_channels = json_fields::integer(v);
      else if (key == "refine_readout") c.refine_readout = json_fields::integer(v);
      else if (key == "refine_kernel") c.refine_kernel = json_fields::integer(v);
      else if (key == "refine_dilations") c.refine_dilations = json_fields::integers(v);
      else if (key == "log_floor") c.log_floor = v.get<double>();
      else if (key == "chunk_seconds") c.chunk_seconds = v.get<double>();
      else if (key == "context_seconds") c.context_seconds = v.get<double>();
      else if (key == "piece_loudness") c.piece_loudness = v.get<bool>();
      else if (key == "seed") c.seed = json_fields::unsigned_integer(v);
      else throw ValueError("TranscriberConfig.from_json: unknown key \"" + key + "\"");
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // nlohmann's type errors, json_fields' range errors
      throw ValueError("TranscriberConfig.from_json: bad value for \"" + key + "\": " + e.what());
    }
  }
  c.validate();
  return c;
}

Transcriber::Conv Transcriber::conv_param(const std::string& name, int64_t cout, int64_t cin, int64_t kh,
                                          int64_t kw) {
  // PyTorch's Conv2d default: W, b ~ U(+-1/sqrt(fan_in)) (kaiming_uniform with a = sqrt 5).
  const double bound = 1.0 / std::sqrt(static_cast<double>(cin * kh * kw));
  Tensor w = Tensor::empty({cout, cin, kh, kw});
  Tensor b = Tensor::empty({cout});
  nn::init::uniform_(w, -bound, bound);
  nn::init::uniform_(b, -bound, bound);
  return {register_parameter(name + "_weight", w), register_parameter(name + "_bias", b)};
}

Transcriber::Transcriber(const TranscriberConfig& config) : config_(config) {
  config_.validate();
  manual_seed(config_.seed);
  filterbank_ = register_buffer("filterbank", log_filterbank(config_.sample_rate, config_.n_fft).to(DType::f32));
  int64_t cin = static_cast<int64_t>(config_.harmonics.size());
  for (size_t i = 0; i < config_.conv_channels.size(); ++i) {
    nn::Conv2dOptions o;
    o.padding = 1;
    convs_.push_back(register_module("conv" + std::to_string(i),
                                     std::make_shared<nn::Conv2d>(cin, config_.conv_channels[i], 3, o)));
    cin = config_.conv_channels[i];
  }
  const int64_t d = config_.key_channels, t = config_.temporal_channels;
  readout_ = conv_param("readout", d, cin, 1, kBinsPerSemitone);
  key_conv_ = conv_param("key_conv", config_.key_context_channels, d, 1, config_.key_kernel);
  cin = d + config_.key_context_channels;
  for (size_t i = 0; i < config_.temporal_dilations.size(); ++i) {
    temporal_.push_back(conv_param("temporal" + std::to_string(i), t, cin, config_.temporal_kernel, 1));
    cin = t;
  }
  heads_ = conv_param("heads", 3, cin, 1, 1);
  frame_hidden_ = conv_param("frame_hidden", config_.frame_channels, cin + 1, 3, 1);
  frame_out_ = conv_param("frame_out", 1, config_.frame_channels, 1, 1);
  if (config_.pedal_channels > 0) {
    int64_t pin = 2 * (cin + 3);  // mean and max over the keys of the trunk and of 3 note probabilities
    for (size_t i = 0; i < config_.pedal_dilations.size(); ++i) {
      pedal_.push_back(conv_param("pedal" + std::to_string(i), config_.pedal_channels, pin, config_.pedal_kernel, 1));
      pin = config_.pedal_channels;
    }
    pedal_head_ = conv_param("pedal_head", 3, pin, 1, 1);
    float* pb = pedal_head_.b.data<float>();
    pb[0] = -3.0f;  // onsets and offsets are rare (about one frame in fifty)
    pb[2] = -3.0f;
  }
  if (config_.velocity_channels > 0)  // levels, trunk, onset probability (and the key's place)
    velocity_ = make_branch("velocity", config_.velocity_channels, config_.velocity_readout,
                            cin + 1 + (config_.velocity_key_position ? 1 : 0), config_.velocity_kernel,
                            config_.velocity_dilations, 1);
  if (config_.refine_channels > 0)  // levels, trunk, onset / offset / frame probabilities
    refine_ = make_branch("refine", config_.refine_channels, config_.refine_readout, cin + 3, config_.refine_kernel,
                          config_.refine_dilations, 3);
  // Start the onset/offset heads near the (rare) positive rate: bias -3 -> p ~ 0.05, so the first
  // steps are not spent unlearning p = 0.5 on every one of the 88 keys (the prior init of focal loss).
  float* hb = heads_.b.data<float>();
  hb[0] = -3.0f;
  hb[1] = -3.0f;
  frame_out_.b.data<float>()[0] = -2.0f;
}

Transcriber::Branch Transcriber::make_branch(const std::string& name, int64_t channels, int64_t readout,
                                             int64_t inputs, int64_t kernel, const std::vector<int64_t>& dilations,
                                             int64_t outputs) {
  Branch b;
  b.readout = conv_param(name + "_readout", readout, static_cast<int64_t>(config_.harmonics.size()), 1,
                         kBinsPerSemitone);
  int64_t cin = readout + inputs;
  for (size_t i = 0; i < dilations.size(); ++i) {
    b.convs.push_back(conv_param(name + std::to_string(i), channels, cin, kernel, 1));
    cin = channels;
  }
  b.convs.push_back(conv_param(name + "_keys", channels, channels, 1, config_.key_kernel));
  b.head = conv_param(name + "_head", outputs, 2 * channels, 1, 1);
  nn::init::zeros_(b.head.w);  // grown on a trained model, it first changes nothing
  nn::init::zeros_(b.head.b);
  return b;
}

Tensor Transcriber::run_branch(const Branch& b, const Tensor& levels, std::vector<Tensor> parts, int64_t kernel,
                               const std::vector<int64_t>& dilations) const {
  const int64_t batch = levels.size(0), nh = levels.size(1), frames = levels.size(2);
  Tensor lv = conv2d(reshape(levels, {batch, nh, frames * 88, kBinsPerSemitone}), b.readout.w,
                     b.readout.b);  // linear: a key's level must not saturate at 0
  parts.insert(parts.begin(), reshape(lv, {batch, b.readout.w.size(0), frames, 88}));
  Tensor x = concat(parts, 1);
  constexpr auto kRelu = ConvActivation::relu;
  const size_t nt = dilations.size();
  for (size_t i = 0; i < nt; ++i) {
    const int64_t pad = dilations[i] * (kernel / 2);
    x = conv2d(x, b.convs[i].w, b.convs[i].b, {1, 1}, {pad, 0}, {dilations[i], 1}, 1, kRelu);
  }
  const int64_t kk = config_.key_kernel / 2;
  Tensor xk = conv2d(x, b.convs[nt].w, b.convs[nt].b, {1, 1}, {0, kk}, {1, 1}, 1, kRelu);
  return conv2d_concat(x, xk, b.head.w, b.head.b, {1, 1}, {0, 0}, {1, 1}, ConvActivation::none);
}

int64_t Transcriber::num_frames(int64_t num_samples) const {
  if (num_samples < 1) throw ValueError("Transcriber.num_frames: need at least one sample, got " +
                                        std::to_string(num_samples));
  return num_samples / config_.hop + 1;
}

TranscriberOutput Transcriber::forward_all(const Tensor& audio_in, const Tensor& reference) {
  Tensor audio = audio_in;
  if (!audio.defined() || (audio.dim() != 1 && audio.dim() != 2))
    throw ShapeError("Transcriber: expected audio [B, N] or [N], got " +
                     (audio.defined() ? shape_str(audio.shape()) : std::string("an undefined tensor")));
  if (audio.dim() == 1) audio = reshape(audio, {1, audio.size(0)});
  if (audio.size(0) < 1 || audio.size(1) < 1)
    throw ShapeError("Transcriber: empty audio of shape " + shape_str(audio.shape()));
  if (audio.dtype() != DType::f32 && audio.dtype() != DType::f64)
    throw DTypeError("Transcriber: expected floating audio, got " + std::string(dtype_name(audio.dtype())));
  // Audio follows the model (Module::to): one host->device copy, recorded, so gradients reach CPU audio.
  if (!(audio.device() == filterbank_.device())) audio = audio.to(filterbank_.device());
  const Tensor fb = audio.dtype() == filterbank_.dtype() ? filterbank_ : filterbank_.to(audio.dtype());
  Tensor x = transcriber_features(audio, fb, config_.frontend(), reference);  // [B, H, F, 264]
  const int64_t batch = x.size(0), frames = x.size(2);
  const Tensor levels = x;  // the velocity branch reads the front end before the ReLU convs
  // The nn::Conv2d layers' parameters through the functional conv, for the fused ReLU.
  for (auto& c : convs_) {
    const nn::Conv2dOptions& o = c->options;
    x = conv2d(x, c->weight, c->bias, {o.stride, o.stride}, {o.padding, o.padding}, {o.dilation, o.dilation}, o.groups,
               ConvActivation::relu);
  }
  // Stride-3 readout: [B, C, F, 264] viewed as [B, C, F*88, 3] (a free reshape) and a [1 x 3] kernel
  // = a conv with kernel = stride = 3 along frequency, one output per key.
  const int64_t c = x.size(1);
  Tensor h = conv2d(reshape(x, {batch, c, frames * 88, kBinsPerSemitone}), readout_.w, readout_.b, {1, 1}, {0, 0},
                    {1, 1}, 1, ConvActivation::relu);
  h = reshape(h, {batch, config_.key_channels, frames, 88});  // [B, D, F, 88]
  // Cross-key context along the keyboard (zero = no key beyond A0 / C8), concatenated to the key's own.
  // Padding inside the conv (per axis): no padded copy of the activations and of their gradient.
  const int64_t kk = config_.key_kernel / 2;
  constexpr auto kRelu = ConvActivation::relu;  // fused into the conv (forward store and VJP mask)
  Tensor k = conv2d(h, key_conv_.w, key_conv_.b, {1, 1}, {0, kk}, {1, 1}, 1, kRelu);
  // Temporal context per key: [kt x 1] kernels, dilation acts on time only (the key extent is 1). The
  // first reads [h | k] in place (conv2d_concat: no concatenated copy, no slicing of its gradient).
  Tensor t;
  for (size_t i = 0; i < temporal_.size(); ++i) {
    const int64_t dil = config_.temporal_dilations[i], p = dil * (config_.temporal_kernel / 2);
    t = i == 0 ? conv2d_concat(h, k, temporal_[i].w, temporal_[i].b, {1, 1}, {p, 0}, {dil, 1}, kRelu)
               : conv2d(t, temporal_[i].w, temporal_[i].b, {1, 1}, {p, 0}, {dil, 1}, 1, kRelu);
  }
  if (temporal_.empty()) t = concat({h, k}, 1);
  Tensor heads = conv2d(t, heads_.w, heads_.b);  // [B, 3, F, 88]
  auto head = [&](int64_t i) { return reshape(slice(heads, 1, i, i + 1), {batch, frames, 88}); };
  Tensor onset_map = slice(heads, 1, 0, 1);
  // The frame head sees the onset probability without sending gradient into the onset head.
  Tensor gate = sigmoid(onset_map.detach());
  Tensor fh = conv2d_concat(t, gate, frame_hidden_.w, frame_hidden_.b, {1, 1}, {1, 0}, {1, 1}, kRelu);
  Tensor frame = reshape(conv2d(fh, frame_out_.w, frame_out_.b), {batch, frames, 88});
  TranscriberOutput out{head(0), frame, head(1), head(2), {}, {}, {}};
  if (!velocity_.empty()) {
    std::vector<Tensor> parts{t.detach(), gate};
    if (config_.velocity_key_position) {
      // A piano's loudness at one velocity depends on the register (hammer mass, strings per key, and in a
      // sampled piano each zone's recording level): the key's place, -1 (A0) .. 1 (C8), on every frame.
      std::vector<float> place(88);
      for (int64_t key = 0; key < 88; ++key) place[key] = static_cast<float>(key - 43.5) / 43.5f;
      const Tensor row = from_vector(place, {1, 1, 1, 88}).to(levels.dtype()).to(levels.device());
      parts.push_back(row * ones({batch, 1, frames, 1}, levels.dtype(), levels.device()));
    }
    // A correction to the trunk's velocity logit: the branch starts (zero head) where the trunk is.
    out.velocity = out.velocity + reshape(run_branch(velocity_, levels, parts, config_.velocity_kernel,
                                                     config_.velocity_dilations),
                                          {batch, frames, 88});
  }
  if (!refine_.empty()) {
    // The trunk's own note probabilities go in detached, so the branch corrects them without the trunk
    // moving to suit it (it is trained alone on a trained model).
    Tensor probs = sigmoid(concat({slice(heads, 1, 0, 2), reshape(frame, {batch, 1, frames, 88})}, 1)).detach();
    Tensor r = run_branch(refine_, levels, {t.detach(), probs}, config_.refine_kernel, config_.refine_dilations);
    auto corr = [&](int64_t i) { return reshape(slice(r, 1, i, i + 1), {batch, frames, 88}); };
    out.onset = out.onset + corr(0);
    out.frame = out.frame + corr(1);
    out.offset = out.offset + corr(2);
  }
  if (!pedal_.empty()) {
    // The pedal head is a probe on the note model: it reads the trunk and the note heads' probabilities
    // (onset, offset, frame) DETACHED, so learning the pedal never trades away note accuracy. The note
    // probabilities carry its strongest cues on a piano without sympathetic resonance: a pedal lift cuts
    // every ringing note at once (offsets across the keyboard), and legato pedalling goes down shortly after
    // the onsets of a new harmony.
    Tensor notes = sigmoid(concat({slice(heads, 1, 0, 2), reshape(frame, {batch, 1, frames, 88})}, 1)).detach();
    Tensor feats = concat({t.detach(), notes}, 1);                                  // [B, T + 3, F, 88]
    Tensor p = concat({mean(feats, {3}, true), max(feats, 3, true).first}, 1);  // [B, 2(T + 3), F, 1]
    for (size_t i = 0; i < pedal_.size(); ++i) {
      const int64_t dil = config_.pedal_dilations[i], pad = dil * (config_.pedal_kernel / 2);
      p = conv2d(p, pedal_[i].w, pedal_[i].b, {1, 1}, {pad, 0}, {dil, 1}, 1, kRelu);
    }
    Tensor ph = conv2d(p, pedal_head_.w, pedal_head_.b);  // [B, 3, F, 1]
    auto pedal = [&](int64_t i) { return reshape(slice(ph, 1, i, i + 1), {batch, frames}); };
    out.pedal_onset = pedal(0);
    out.pedal_frame = pedal(1);
    out.pedal_offset = pedal(2);
  }
  return out;
}

void Transcriber::save(const std::string& path) const {
  nn::Module::save(path, {{kConfigKey, config_.to_json()}, {"format", "pianograd.transcriber/1"}});
}

std::shared_ptr<Transcriber> Transcriber::load(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);  // FileNotFound / IOError for missing / corrupt files
  auto it = f.metadata.find(kConfigKey);
  if (it == f.metadata.end())
    throw ValueError("Transcriber.load: " + path + " is not a transcriber checkpoint (no \"" + kConfigKey +
                     "\" in its metadata)");
  auto model = std::make_shared<Transcriber>(TranscriberConfig::from_json(it->second));
  try {
    model->load_state_dict(f.tensors, true);
  } catch (const Error& e) {
    throw ValueError("Transcriber.load: " + path + " does not match its config: " + e.what());
  }
  return model;
}

double Transcriber::loudness_reference(const float* audio_ptr, int64_t n, double sr) const {
  if (audio_ptr == nullptr || n < 1) throw ShapeError("Transcriber.loudness_reference: empty audio");
  if (!(sr > 0) || !std::isfinite(sr))
    throw ValueError("Transcriber.loudness_reference: bad sample rate " + std::to_string(sr));
  std::vector<float> audio(audio_ptr, audio_ptr + n);
  if (sr != config_.sample_rate) audio = resample(audio, sr, config_.sample_rate);
  const int64_t len = static_cast<int64_t>(audio.size());
  // Chunks of ~60 s overlapping by n_fft, so every frame of the whole is inside some chunk.
  const int64_t step = std::max<int64_t>(config_.hop, static_cast<int64_t>(60.0 * config_.sample_rate));
  const Tensor fb = filterbank_.cpu();
  double peak = -std::numeric_limits<double>::infinity();
  for (int64_t s0 = 0; s0 < std::max<int64_t>(len, 1); s0 += step) {
    const int64_t s1 = std::min(len, s0 + step + config_.n_fft);
    std::vector<float> part(audio.begin() + s0, audio.begin() + s1);
    if (part.empty()) part.assign(1, 0.0f);
    const int64_t m = static_cast<int64_t>(part.size());
    peak = std::max(peak, log_spectrum_peak(from_vector(part, {1, m}), fb, config_.frontend()).item());
  }
  return peak;
}

PianoRolls Transcriber::predict_rolls(const float* audio_ptr, int64_t n, double sr) {
  if (audio_ptr == nullptr || n < 1) throw ShapeError("Transcriber.predict_rolls: empty audio");
  if (!(sr > 0) || !std::isfinite(sr)) throw ValueError("Transcriber.predict_rolls: bad sample rate " + std::to_string(sr));
  std::vector<float> audio(audio_ptr, audio_ptr + n);
  if (sr != config_.sample_rate) audio = resample(audio, sr, config_.sample_rate);
  const int64_t len = std::max<int64_t>(1, static_cast<int64_t>(audio.size()));
  audio.resize(static_cast<size_t>(len), 0.0f);
  const int64_t total = num_frames(len);
  const double fr = frame_rate();
  Tensor reference;
  if (config_.piece_loudness)
    reference = full({1}, loudness_reference(audio.data(), len, config_.sample_rate)).to(filterbank_.device());
  const int64_t ctx = static_cast<int64_t>(std::lround(config_.context_seconds * fr));
  const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(std::lround(config_.chunk_seconds * fr)) - 2 * ctx);
  PianoRolls out;
  out.frame_rate = fr;
  Tensor* rolls[4] = {&out.onset, &out.frame, &out.offset, &out.velocity};
  for (Tensor* r : rolls) *r = zeros({total, 88});
  Tensor* pedal_rolls[3] = {&out.pedal.onset, &out.pedal.frame, &out.pedal.offset};
  if (has_pedal()) {
    for (Tensor* r : pedal_rolls) *r = zeros({total});
    out.pedal.frame_rate = fr;
  }
  NoGrad ng;
  const bool was_training = is_training();
  eval();
  for (int64_t b0 = 0; b0 < total; b0 += step) {
    const int64_t b1 = std::min(total, b0 + step);
    const int64_t f0 = std::max<int64_t>(0, b0 - ctx), f1 = std::min(total, b1 + ctx);
    // Frames f0..f1-1 are centred on samples f*hop: take [f0*hop, f1*hop), zero-padded at the end.
    const int64_t s0 = f0 * config_.hop, ns = (f1 - f0) * config_.hop;
    Tensor chunk = zeros({1, ns});
    const int64_t avail = std::min(ns, len - s0);
    std::copy(audio.begin() + s0, audio.begin() + s0 + avail, chunk.data<float>());
    TranscriberOutput y = forward_all(chunk, reference);
    const Tensor* heads[4] = {&y.onset, &y.frame, &y.offset, &y.velocity};
    for (int h = 0; h < 4; ++h) {
      Tensor p = sigmoid(*heads[h]).cpu();  // [1, F_chunk, 88]; a device->host copy for a CUDA model
      const float* src = p.data<float>();
      float* dst = rolls[h]->data<float>();
      for (int64_t f = b0; f < b1; ++f)
        std::copy(src + (f - f0) * 88, src + (f - f0 + 1) * 88, dst + f * 88);
    }
    if (!has_pedal()) continue;
    const Tensor* pedal_heads[3] = {&y.pedal_onset, &y.pedal_frame, &y.pedal_offset};
    for (int h = 0; h < 3; ++h) {
      Tensor p = sigmoid(*pedal_heads[h]).cpu();  // [1, F_chunk]
      std::copy(p.data<float>() + (b0 - f0), p.data<float>() + (b1 - f0), pedal_rolls[h]->data<float>() + b0);
    }
  }
  train(was_training);
  return out;
}

Performance Transcriber::transcribe(const float* audio, int64_t n, double sr, const RollDecodeOptions& options) {
  return rolls_to_performance(predict_rolls(audio, n, sr), options);
}

}  // namespace pianograd
