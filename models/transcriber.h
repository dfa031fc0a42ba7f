// The transcription model h: audio -> performance (issue 5, A -> M). Per frame (50 fps) and per key (88)
// it predicts onset, frame (key sounding), offset logits and a velocity logit (sigmoid = velocity / 127).
//
// Architecture (pitch-equivariant, basic-pitch style; Bittner et al. 2022, Onsets&Frames: Hawthorne et
// al. 2018):
//   front end (transcriber_frontend.h): harmonically stacked log-frequency spectrogram [B, 8, F, 264]
//   -> conv2d 3x3 layers over (time, frequency), weights shared across frequency, ReLU
//   -> stride-3 readout: the 3 bins of each key x channels -> D key features [B, D, F, 88]
//   -> cross-key context: a conv along the key axis (kernel ~ an octave+), its channels concatenated
//   -> temporal context per key: convs over time (dilated), weights shared by all keys
//   -> heads: 1x1 conv to onset / offset / velocity; the frame head sees the trunk and the DETACHED
//      onset probability (Onsets&Frames: onsets gate frames without frame errors flowing into onsets).
//   -> optional sustain pedal head (pedal_channels > 0): the trunk and the note probabilities (onset,
//      offset, frame), detached, pooled over the 88 keys (mean and max), dilated convs over time, 1x1 to
//      pedal onset / frame / offset logits [B, F]. The pedal is heard on the whole keyboard at once
//      (undamped strings ring on after their keys rise, a lift cuts every ringing note), so it reads
//      keyboard-wide statistics rather than any one key.
//   -> optional velocity branch (velocity_channels > 0), refining the trunk's velocity logit: a LINEAR
//      stride-3 readout of the front end (the key's log levels before any ReLU: how loud, not only
//      whether), the detached trunk and onset probability, convs over time (the level before and after
//      the strike: a re-struck key over its own ringing) and along the keys (a neighbour's harmonics
//      masking this key's), 1x1 to a correction added to the trunk's velocity logit (zero at first).
//      Detached from the trunk, so it can be grown on a trained model and trained alone without moving
//      any note output.
//   -> optional note refinement branch (refine_channels > 0), the same shape as the velocity branch but
//      reading the detached onset, offset and frame probabilities and writing corrections to the onset,
//      frame and offset logits (zero at first): the trunk's 15 k parameters see only 0.1 s on each side of a
//      frame, while a re-strike under the pedal or a harmonic of a louder note is told apart by the
//      key's linear level over a longer span (the rise of a new hammer blow over a decaying string).
// After the readout everything stays in one [B, C, F, 88] layout: the per-key convs are conv2d with
// [kt x 1] (time) or [1 x kk] (keys) kernels over explicitly padded inputs, so no permutes are needed
// (per-key conv1d with batch B*88 would need two transposes of every activation, measured ~15% of a step).
// Every weight is shared across keys, so a pattern learned on one key transfers to all of them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/nn/conv2d.h"
#include "models/transcriber_frontend.h"
#include "synth/piano_roll.h"

namespace pianograd {

struct TranscriberConfig {
  double sample_rate = 16000;
  int64_t hop = 320;  // 50 frames per second at 16 kHz
  int64_t n_fft = 2048;
  std::vector<double> harmonics{0.5, 1, 2, 3, 4, 5, 6, 7};
  std::vector<int64_t> conv_channels{8};        // conv2d 3x3 layers over (time, frequency)
  int64_t key_channels = 16;                    // D, after the stride-3 readout
  int64_t key_kernel = 13;                      // cross-key conv width (keys), odd: an octave and one
  int64_t key_context_channels = 8;             // cross-key features, concatenated to the D
  int64_t temporal_channels = 16;               // T
  int64_t temporal_kernel = 5;                  // odd
  std::vector<int64_t> temporal_dilations{1, 2};  // one conv1d layer per entry
  int64_t frame_channels = 8;                   // hidden width of the frame head
  int64_t pedal_channels = 0;                   // width of the pedal head; 0: no pedal head
  int64_t pedal_kernel = 9;                     // odd; time taps of each pedal conv
  std::vector<int64_t> pedal_dilations{1, 4};   // one conv layer per entry (receptive field (k-1) * sum)
  int64_t velocity_channels = 0;                // width of the velocity branch; 0: the trunk's 1x1 head alone
  int64_t velocity_readout = 16;                // linear level features per key read from the front end
  int64_t velocity_kernel = 5;                  // odd; time taps of each velocity conv
  std::vector<int64_t> velocity_dilations{1, 2};  // one conv layer per entry
  bool velocity_key_position = false;           // the branch also reads the key's place on the keyboard
  int64_t refine_channels = 0;                  // width of the note refinement branch; 0: the trunk's heads alone
  int64_t refine_readout = 16;                  // linear level features per key read from the front end
  int64_t refine_kernel = 5;                    // odd; time taps of each refinement conv
  std::vector<int64_t> refine_dilations{1, 2, 4};  // one conv layer per entry
  double log_floor = 10.0;                      // see FrontendConfig::floor
  double chunk_seconds = 20.0;                  // inference chunks (transcribe / predict_rolls)
  double context_seconds = 1.0;                 // overlap discarded on each side of a chunk
  // Loudness reference of inference: false = each chunk's own peak (relative loudness within ~20 s);
  // true = the whole piece's peak (loudness_reference), so a note's level reads the same in every chunk.
  // A model trained with piece references (velocity needs them) sets it.
  bool piece_loudness = false;
  uint64_t seed = 0;                            // seeds the global generator before initialisation

  FrontendConfig frontend() const;
  // Throws ValueError naming the field for an invalid value.
  void validate() const;
  std::string to_json() const;
  // Missing keys keep their defaults; unknown keys or ill-typed values throw ValueError.
  static TranscriberConfig from_json(const std::string& json);
};

struct TranscriberOutput {
  Tensor onset, frame, offset, velocity;  // LOGITS, each [B, F, 88]; sigmoid(velocity) = velocity / 127
  Tensor pedal_onset, pedal_frame, pedal_offset;  // LOGITS [B, F]; undefined without a pedal head
};

class Transcriber : public nn::Module {
 public:
  explicit Transcriber(const TranscriberConfig& config = {});
  std::string type_name() const override { return "Transcriber"; }

  // audio [B, N] or [N] (B = 1), floating, at config().sample_rate. ShapeError otherwise. reference:
  // optional loudness reference [B] (loudness_reference of each example's piece; see
  // transcriber_features), else each example's own peak.
  TranscriberOutput forward_all(const Tensor& audio, const Tensor& reference = Tensor());
  // nn::Module's single-output forward: the onset logits (use forward_all for every head).
  Tensor forward(const Tensor& audio) override { return forward_all(audio).onset; }

  int64_t num_frames(int64_t num_samples) const;
  // The peak of the front end's log spectrogram over a whole recording at sr (resampled to the model's
  // rate when it differs), computed in chunks: the loudness reference of that piece.
  double loudness_reference(const float* audio, int64_t n, double sr) const;  // F = N / hop + 1 (frame f <-> time f / frame_rate)
  double frame_rate() const { return config_.sample_rate / static_cast<double>(config_.hop); }
  int64_t parameter_count() const { return num_parameters(); }
  const TranscriberConfig& config() const { return config_; }
  bool has_pedal() const { return !pedal_.empty(); }

  // Safetensors checkpoint with the config JSON under metadata key "transcriber_config" (atomic write).
  void save(const std::string& path) const;
  // FileNotFound / IOError for a missing or corrupt file, ValueError when the file is not a transcriber
  // checkpoint or its tensors do not match its config.
  static std::shared_ptr<Transcriber> load(const std::string& path);

  // Inference on long audio: resampled to the model's rate when sr differs, cut into chunks of
  // chunk_seconds overlapping by context_seconds on each side (the overlap is discarded), run under
  // NoGrad, stitched. Each chunk is normalised on its own (relative loudness within ~20 s), or by the
  // whole piece's loudness_reference when config().piece_loudness. With a pedal
  // head the result's .pedal rolls are filled too (and transcribe then decodes the pedal).
  PianoRolls predict_rolls(const float* audio, int64_t n, double sr);  // probabilities [F, 88]
  Performance transcribe(const float* audio, int64_t n, double sr, const RollDecodeOptions& options = {});

 private:
  TranscriberConfig config_;
  Tensor filterbank_;  // buffer "filterbank" [used_fft_bins, 264]
  std::vector<std::shared_ptr<nn::Conv2d>> convs_;
  struct Conv {  // a conv2d's parameters (kernels need not be square)
    Tensor w, b;
  };
  Conv conv_param(const std::string& name, int64_t cout, int64_t cin, int64_t kh, int64_t kw);
  Conv readout_;                 // [D, C, 1, 3]
  Conv key_conv_;                // [Kc, D, 1, kk]
  std::vector<Conv> temporal_;   // [T, Cin, kt, 1]
  Conv heads_;                   // [3, T, 1, 1]: onset, offset, velocity
  Conv frame_hidden_;            // [Fc, T + 1, 3, 1]
  Conv frame_out_;               // [1, Fc, 1, 1]
  std::vector<Conv> pedal_;      // [P, Cin, kp, 1]; empty without a pedal head
  Conv pedal_head_;              // [3, P, 1, 1]: pedal onset, frame, offset
  // A branch beside the trunk (velocity, note refinement): a linear readout of the front end's levels,
  // convs over time, one conv along the keys, and a zero-initialised 1x1 head on [time | keys].
  struct Branch {
    Conv readout;             // [R, H, 1, 3] on the front end
    std::vector<Conv> convs;  // [C, Cin, k, 1] over time, then one [C, C, 1, kk] along the keys
    Conv head;                // [outputs, 2C, 1, 1]
    bool empty() const { return convs.empty(); }
  };
  Branch make_branch(const std::string& name, int64_t channels, int64_t readout, int64_t inputs, int64_t kernel,
                     const std::vector<int64_t>& dilations, int64_t outputs);
  // The branch's head output [B, outputs, F, 88] from the front end's levels [B, H, F, 264] and the other
  // inputs `parts` (each [B, c, F, 88]).
  Tensor run_branch(const Branch& b, const Tensor& levels, std::vector<Tensor> parts, int64_t kernel,
                    const std::vector<int64_t>& dilations) const;
  Branch velocity_;              // empty without a velocity branch
  Branch refine_;                // empty without a note refinement branch
};

}  // namespace pianograd
