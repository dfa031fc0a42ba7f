// The recurrent baseline of the motion LM (issue 14, item 4): token embedding -> stacked GRU (Cho et
// al. 2014; nn::GRU) -> a projection to the vocabulary, trained on the same crops with the same loss.
// "Same size" as a Transformer: MotionGRUConfig::matching(transformer config) picks the hidden width
// whose parameter count is closest to the Transformer's.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "autodiff/nn/embedding.h"
#include "autodiff/nn/gru.h"
#include "autodiff/nn/linear.h"
#include "models/motion_lm.h"

namespace pianograd {

struct MotionGRUConfig {
  int64_t vocab_size = 313;
  int64_t d_embed = 128;
  int64_t hidden = 256;
  int64_t n_layers = 2;
  double dropout = 0.1;  // on the embeddings and the last layer's outputs, while training
  uint64_t seed = 0;

  void validate() const;  // ValueError naming the field
  std::string to_json() const;
  static MotionGRUConfig from_json(const std::string& json);
  // The config with the Transformer's vocabulary and embedding width and n_layers GRU layers whose
  // hidden width gives the parameter count closest to `target_parameters`.
  static MotionGRUConfig matching(const MotionLMConfig& lm, int64_t target_parameters, int64_t n_layers = 2);
  int64_t parameter_count() const;
};

class MotionGRU : public nn::Module {
 public:
  explicit MotionGRU(const MotionGRUConfig& config = {});
  std::string type_name() const override { return "MotionGRU"; }
  const MotionGRUConfig& config() const { return config_; }

  Tensor forward(const Tensor& tokens) override;  // [B, T] -> logits [B, T, V]
  // With a carried state h0 [layers, B, H] (undefined = zeros): (logits, h_n).
  std::pair<Tensor, Tensor> forward(const Tensor& tokens, const Tensor& h0);
  Tensor loss(const Tensor& tokens, int64_t ignore = 0);  // as MotionLM::loss

  // Dropout calls made so far: each call's mask is seeded from config.seed and this count. A trainer
  // saves it with a checkpoint and sets it back on resume, so the resumed run draws the same masks.
  uint64_t dropout_calls() const { return dropout_calls_; }
  void set_dropout_calls(uint64_t n) { dropout_calls_ = n; }

  void save(const std::string& path) const;
  static std::shared_ptr<MotionGRU> load(const std::string& path);

 private:
  MotionGRUConfig config_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::shared_ptr<nn::GRU> gru_;
  std::shared_ptr<nn::Linear> out_;
  uint64_t dropout_calls_ = 0;
};

}  // namespace pianograd
