// The motion language model LM^M (issue 14): a decoder-only Transformer over performance tokens
// (models/motion_tokens.h) — pre-norm blocks (Xiong et al. 2020) of causal multi-head self-attention
// with rotary positions (RoPE, Su et al. 2021: q and k rotated by position so that their dot product
// depends on the relative offset only, and a model trained on short crops reads any offset the same)
// and a GELU MLP, a final LayerNorm and an output projection tied to the token embedding (Press & Wolf
// 2017). Attention is the engine's fused op (autodiff/ops/attention.h): no T x T matrix is kept.
// With config.state_features each token's embedding also gets a learned projection of the piano's state
// after it (models/motion_state.h: the keys sounding, how long they have been held, the pedal, the time
// since the last onset), which a recurrent net carries for free and attention would have to recount.
//
// Training runs forward() over [B, T] token crops with the tape; generation (models/motion_sampling.h)
// runs step() with a per-layer KV cache under NoGrad, one token (or a prompt) at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/nn/embedding.h"
#include "autodiff/nn/layer_norm.h"
#include "autodiff/nn/linear.h"
#include "models/motion_state.h"

namespace pianograd {

struct MotionLMConfig {
  int64_t vocab_size = 313;  // MotionTokenizer's default vocabulary
  int64_t d_model = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 4;       // d_model / n_heads must be even (RoPE rotates pairs of dims)
  int64_t d_ff = 512;
  int64_t context = 512;     // the longest sequence forward() and the KV cache accept
  double dropout = 0.1;      // on the attention and MLP outputs and the embeddings, while training
  double rope_base = 10000.0;
  uint64_t seed = 0;         // seeds the global generator before initialisation
  // Adds a learned projection of the piano's state after each token (models/motion_state.h: keys
  // sounding and for how long, pedal, time since the last onset) to the token's embedding. The tokens
  // must then be MotionTokenizer's default vocabulary. Off in checkpoints that predate it.
  bool state_features = false;

  void validate() const;  // ValueError naming the field
  std::string to_json() const;
  static MotionLMConfig from_json(const std::string& json);  // unknown keys: ValueError
};

// Per-layer keys and values of the tokens seen so far ([B, H, length, Dh] each), for step().
struct KVCache {
  std::vector<Tensor> k, v;
  std::vector<MotionState> state;  // per row, after the cached tokens (read with state_features)
  int64_t batch = 0, length = 0;
};

// tokens as i64 after checking every value is in [0, vocab) (ValueError naming the first bad one, `what`
// the caller); shared by the motion LMs.
Tensor checked_tokens(const Tensor& tokens, int64_t vocab, const char* what);

class MotionLM : public nn::Module {
 public:
  explicit MotionLM(const MotionLMConfig& config = {});
  std::string type_name() const override { return "MotionLM"; }
  const MotionLMConfig& config() const { return config_; }

  // tokens [B, T] (i64 or i32, values in [0, vocab)), T <= context -> logits [B, T, V] (token t's logits
  // predict token t + 1). ShapeError / ValueError naming the problem otherwise.
  Tensor forward(const Tensor& tokens) override;
  // The same for a window that starts after other tokens: `start` holds each row's state where the
  // window begins (models/motion_state.h; read only with config.state_features). ShapeError unless it
  // has B entries.
  Tensor forward(const Tensor& tokens, const std::vector<MotionState>& start);
  // Mean cross-entropy (nats) of each next token given the ones before it, over a batch of crops
  // [B, T + 1]: inputs tokens[:, :T], targets tokens[:, 1:]; targets equal to `ignore` do not count.
  Tensor loss(const Tensor& tokens, int64_t ignore = 0);

  // Inference: appends tokens [B, n] (n >= 1) after the cache's `length` tokens and returns their
  // logits [B, n, V]; the cache grows by n. ValueError when length + n would exceed the context.
  KVCache new_cache(int64_t batch) const;
  Tensor step(const Tensor& tokens, KVCache& cache);

  // Safetensors checkpoint with the config under metadata "motion_lm_config" (atomic write).
  // Dropout calls made so far: each call's mask is seeded from config.seed and this count. A trainer
  // saves it with a checkpoint and sets it back on resume, so the resumed run draws the same masks.
  uint64_t dropout_calls() const { return dropout_calls_; }
  void set_dropout_calls(uint64_t n) { dropout_calls_ = n; }

  void save(const std::string& path) const;
  static std::shared_ptr<MotionLM> load(const std::string& path);

 private:
  // One pre-norm block's parameters, a child module "block<l>" (so its tensors are "block<l>.qkv.weight"...).
  struct Block : nn::Module {
    Block(int64_t d_model, int64_t d_ff);
    std::string type_name() const override { return "MotionLMBlock"; }
    std::shared_ptr<nn::LayerNorm> ln1, ln2;
    std::shared_ptr<nn::Linear> qkv, proj, fc1, fc2;
  };
  // x [B, T, D] at positions [pos0, pos0 + T); with a cache, k/v are appended and attended in full.
  Tensor block_forward(const Block& b, const Tensor& x, int64_t pos0, Tensor* cache_k, Tensor* cache_v);
  // Token embeddings plus, with state_features, the projected state after each token; `state` (B rows)
  // is where the window starts and is advanced over it.
  Tensor embed(const Tensor& tokens, std::vector<MotionState>& state);
  Tensor logits(const Tensor& h);
  Tensor rotate(const Tensor& x, int64_t pos0) const;  // RoPE on [B, H, T, Dh]

  MotionLMConfig config_;
  std::shared_ptr<nn::Embedding> embedding_;
  std::vector<std::shared_ptr<Block>> blocks_;
  std::shared_ptr<nn::LayerNorm> ln_f_;
  std::shared_ptr<nn::Linear> state_proj_;  // kMotionStateFeatures -> d_model, no bias; with state_features
  MotionTokenizer tokenizer_;               // reads tokens for the state
  Tensor rope_cos_, rope_sin_;  // buffers [context, Dh / 2]
  uint64_t dropout_calls_ = 0;  // a fresh dropout seed per call, reproducible from config.seed
};

}  // namespace pianograd
