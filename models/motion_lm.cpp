#include "models/motion_lm.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "autodiff/checkpoint.h"
#include "autodiff/errors.h"
#include "models/json_fields.h"
#include "autodiff/ops.h"

namespace pianograd {

namespace {

constexpr const char* kConfigKey = "motion_lm_config";

void require(bool ok, const std::string& what) {
  if (!ok) throw ValueError("MotionLMConfig: " + what);
}

// w <- N(0, std^2), in place (GPT-2's initialisation; parameters keep their identity).
void init_normal(const Tensor& w, double std) {
  const Tensor r = randn(w.shape(), w.dtype());
  const int64_t n = w.numel();
  float* dst = w.data<float>();
  const float* src = r.data<float>();
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i] * std);
}

void init_zero(const Tensor& w) {
  if (w.defined()) std::memset(w.raw_data(), 0, w.nbytes());
}

}  // namespace

void MotionLMConfig::validate() const {
  require(vocab_size >= 4, "vocab_size must be >= 4, got " + std::to_string(vocab_size));
  require(d_model >= 2 && n_heads >= 1 && d_model % n_heads == 0,
          "d_model must be a multiple of n_heads, got " + std::to_string(d_model) + " and " + std::to_string(n_heads));
  require((d_model / n_heads) % 2 == 0, "d_model / n_heads must be even (rotary positions rotate pairs)");
  require(n_layers >= 1, "n_layers must be >= 1");
  require(d_ff >= 1, "d_ff must be >= 1");
  require(context >= 2, "context must be >= 2, got " + std::to_string(context));
  require(dropout >= 0 && dropout < 1, "dropout must be in [0, 1)");
  require(rope_base > 1, "rope_base must be > 1");
  require(!state_features || vocab_size == MotionTokenizer().vocab_size(),
          "state_features reads MotionTokenizer's default vocabulary of " + std::to_string(MotionTokenizer().vocab_size()) +
              " tokens, got vocab_size " + std::to_string(vocab_size));
}

std::string MotionLMConfig::to_json() const {
  nlohmann::json j = {{"vocab_size", vocab_size}, {"d_model", d_model}, {"n_layers", n_layers},
                      {"n_heads", n_heads}, {"d_ff", d_ff}, {"context", context}, {"dropout", dropout},
                      {"rope_base", rope_base}, {"seed", seed},
                      {"state_features", state_features}};
  return j.dump();
}

MotionLMConfig MotionLMConfig::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw ValueError(std::string("MotionLMConfig.from_json: malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw ValueError("MotionLMConfig.from_json: expected a JSON object");
  MotionLMConfig c;
  for (const auto& [key, v] : j.items()) {
    try {
      if (key == "vocab_size") c.vocab_size = json_fields::integer(v);
      else if (key == "d_model") c.d_model = json_fields::integer(v);
      else if (key == "n_layers") c.n_layers = json_fields::integer(v);
      else if (key == "n_heads") c.n_heads = json_fields::integer(v);
      else if (key == "d_ff") c.d_ff = json_fields::integer(v);
      else if (key == "context") c.context = json_fields::integer(v);
      else if (key == "dropout") c.dropout = v.get<double>();
      else if (key == "rope_base") c.rope_base = v.get<double>();
      else if (key == "seed") c.seed = json_fields::unsigned_integer(v);
      else if (key == "state_features") c.state_features = v.get<bool>();
      else throw ValueError("MotionLMConfig.from_json: unknown key \"" + key + "\"");
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // nlohmann's type errors, json_fields' range errors
      throw ValueError("MotionLMConfig.from_json: bad value for \"" + key + "\": " + e.what());
    }
  }
  c.validate();
  return c;
}

MotionLM::Block::Block(int64_t D, int64_t d_ff) {
  ln1 = register_module("ln1", std::make_shared<nn::LayerNorm>(Shape{D}));
  qkv = register_module("qkv", std::make_shared<nn::Linear>(D, 3 * D));
  proj = register_module("proj", std::make_shared<nn::Linear>(D, D));
  ln2 = register_module("ln2", std::make_shared<nn::LayerNorm>(Shape{D}));
  fc1 = register_module("fc1", std::make_shared<nn::Linear>(D, d_ff));
  fc2 = register_module("fc2", std::make_shared<nn::Linear>(d_ff, D));
}

MotionLM::MotionLM(const MotionLMConfig& config) : config_(config) {
  config_.validate();
  manual_seed(config_.seed);
  const int64_t D = config_.d_model;
  embedding_ = register_module("embedding", std::make_shared<nn::Embedding>(config_.vocab_size, D));
  init_normal(embedding_->weight, 0.02);
  // Residual projections scaled by 1/sqrt(2 L) so the residual stream's variance does not grow with depth.
  const double proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.n_layers));
  for (int64_t l = 0; l < config_.n_layers; ++l) {
    auto b = register_module("block" + std::to_string(l), std::make_shared<Block>(D, config_.d_ff));
    for (const auto& lin : {b->qkv, b->fc1}) init_normal(lin->weight, 0.02), init_zero(lin->bias);
    for (const auto& lin : {b->proj, b->fc2}) init_normal(lin->weight, proj_std), init_zero(lin->bias);
    blocks_.push_back(b);
  }
  ln_f_ = register_module("ln_f", std::make_shared<nn::LayerNorm>(Shape{D}));
  if (config_.state_features) {
    state_proj_ = register_module("state_proj", std::make_shared<nn::Linear>(kMotionStateFeatures, D, false));
    init_normal(state_proj_->weight, 0.02);
  }
  // RoPE tables: angle(p, i) = p * base^(-2i / Dh) for the Dh / 2 rotated pairs, in double then f32.
  const int64_t half = D / config_.n_heads / 2, T = config_.context;
  Tensor c = zeros({T, half}), s = zeros({T, half});
  for (int64_t p = 0; p < T; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * std::pow(config_.rope_base, -static_cast<double>(i) / static_cast<double>(half));
      c.data<float>()[p * half + i] = static_cast<float>(std::cos(a));
      s.data<float>()[p * half + i] = static_cast<float>(std::sin(a));
    }
  rope_cos_ = register_buffer("rope_cos", c);
  rope_sin_ = register_buffer("rope_sin", s);
}

Tensor MotionLM::rotate(const Tensor& x, int64_t pos0) const { return rotary_embedding(x, rope_cos_, rope_sin_, pos0); }

Tensor checked_tokens(const Tensor& tokens, int64_t vocab, const char* what) {
  if (tokens.dim() != 2) throw ShapeError(std::string(what) + ": tokens must be [B, T], got " + shape_str(tokens.shape()));
  if (tokens.dtype() != DType::i64 && tokens.dtype() != DType::i32)
    throw DTypeError(std::string(what) + ": tokens must be i64 or i32, got " + dtype_name(tokens.dtype()));
  const Tensor t64 = tokens.dtype() == DType::i64 ? tokens : tokens.to(DType::i64);
  const int64_t* p = t64.data<int64_t>();
  for (int64_t i = 0; i < t64.numel(); ++i)
    if (p[i] < 0 || p[i] >= vocab)
      throw ValueError(std::string(what) + ": token " + std::to_string(p[i]) + " at [" + std::to_string(i / tokens.shape()[1]) +
                       ", " + std::to_string(i % tokens.shape()[1]) + "] outside the vocabulary 0.." +
                       std::to_string(vocab - 1));
  return t64;
}

Tensor MotionLM::embed(const Tensor& tokens, std::vector<MotionState>& state) {
  const Tensor t64 = checked_tokens(tokens, config_.vocab_size, "MotionLM");
  Tensor h = embedding_->forward(t64);
  if (config_.state_features) {
    const int64_t B = t64.shape()[0], T = t64.shape()[1];
    Tensor f = zeros({B, T, kMotionStateFeatures});
    for (int64_t b = 0; b < B; ++b)
      window_state_features(tokenizer_, t64.data<int64_t>() + b * T, static_cast<size_t>(T), state[static_cast<size_t>(b)],
                            f.data<float>() + b * T * kMotionStateFeatures);
    h = add(h, state_proj_->forward(f));
  }
  if (is_training() && config_.dropout > 0) h = dropout(h, config_.dropout, true, config_.seed * 7919 + ++dropout_calls_);
  return h;
}

Tensor MotionLM::block_forward(const Block& b, const Tensor& x, int64_t pos0, Tensor* cache_k, Tensor* cache_v) {
  const int64_t B = x.shape()[0], T = x.shape()[1], D = config_.d_model, H = config_.n_heads, Dh = D / H;
  const bool drop = is_training() && config_.dropout > 0;
  // [B, T, 3D] -> [3, B, H, T, Dh]: queries, keys and values of every head.
  const Tensor qkv = permute(reshape(b.qkv->forward(b.ln1->forward(x)), {B, T, 3, H, Dh}), {2, 0, 3, 1, 4});
  const Tensor q = rotate(reshape(slice(qkv, 0, 0, 1), {B, H, T, Dh}), pos0);
  Tensor k = rotate(reshape(slice(qkv, 0, 1, 2), {B, H, T, Dh}), pos0);
  Tensor v = reshape(slice(qkv, 0, 2, 3), {B, H, T, Dh});
  if (cache_k) {
    if (cache_k->defined()) k = concat({*cache_k, k}, 2), v = concat({*cache_v, v}, 2);
    *cache_k = k, *cache_v = v;
  }
  Tensor a = reshape(permute(scaled_dot_product_attention(q, k, v, true), {0, 2, 1, 3}), {B, T, D});
  a = b.proj->forward(a);
  if (drop) a = dropout(a, config_.dropout, true, config_.seed * 7919 + ++dropout_calls_);
  const Tensor h = add(x, a);
  Tensor m = b.fc2->forward(gelu(b.fc1->forward(b.ln2->forward(h))));
  if (drop) m = dropout(m, config_.dropout, true, config_.seed * 7919 + ++dropout_calls_);
  return add(h, m);
}

Tensor MotionLM::logits(const Tensor& h) {
  const int64_t B = h.shape()[0], T = h.shape()[1], D = config_.d_model;
  const Tensor y = linear(reshape(ln_f_->forward(h), {B * T, D}), embedding_->weight);
  return reshape(y, {B, T, config_.vocab_size});
}

Tensor MotionLM::forward(const Tensor& tokens) {
  return forward(tokens, std::vector<MotionState>(tokens.dim() == 2 ? static_cast<size_t>(tokens.shape()[0]) : 0));
}

Tensor MotionLM::forward(const Tensor& tokens, const std::vector<MotionState>& start) {
  if (tokens.dim() == 2 && start.size() != static_cast<size_t>(tokens.shape()[0]))
    throw ShapeError("MotionLM: " + std::to_string(start.size()) + " start states for " +
                     std::to_string(tokens.shape()[0]) + " rows");
  std::vector<MotionState> state = start;
  Tensor h = embed(tokens, state);
  if (tokens.shape()[1] > config_.context)
    throw ValueError("MotionLM: " + std::to_string(tokens.shape()[1]) + " tokens exceed the context of " +
                     std::to_string(config_.context));
  for (const auto& b : blocks_) h = block_forward(*b, h, 0, nullptr, nullptr);
  return logits(h);
}

Tensor MotionLM::loss(const Tensor& tokens, int64_t ignore) {
  if (tokens.dim() != 2 || tokens.shape()[1] < 2)
    throw ShapeError("MotionLM.loss: tokens must be [B, T + 1] with T >= 1, got " + shape_str(tokens.shape()));
  const int64_t B = tokens.shape()[0], T = tokens.shape()[1] - 1;
  const Tensor t64 = checked_tokens(tokens, config_.vocab_size, "MotionLM.loss");
  const Tensor y = forward(slice(t64, 1, 0, T));
  const Tensor target = reshape(slice(t64, 1, 1, T + 1), {B * T});
  return cross_entropy(reshape(y, {B * T, config_.vocab_size}), target, ignore);
}

KVCache MotionLM::new_cache(int64_t batch) const {
  if (batch < 1) throw ValueError("MotionLM.new_cache: batch must be >= 1");
  KVCache c;
  c.batch = batch;
  c.k.resize(blocks_.size());
  c.v.resize(blocks_.size());
  c.state.resize(static_cast<size_t>(batch));
  return c;
}

Tensor MotionLM::step(const Tensor& tokens, KVCache& cache) {
  if (tokens.dim() != 2 || tokens.shape()[0] != cache.batch || tokens.shape()[1] < 1)
    throw ShapeError("MotionLM.step: tokens must be [" + std::to_string(cache.batch) + ", n >= 1], got " +
                     shape_str(tokens.shape()));
  if (cache.k.size() != blocks_.size()) throw ValueError("MotionLM.step: the cache was made for another model");
  const int64_t n = tokens.shape()[1];
  if (cache.length + n > config_.context)
    throw ValueError("MotionLM.step: " + std::to_string(cache.length + n) + " tokens exceed the context of " +
                     std::to_string(config_.context));
  Tensor h = embed(tokens, cache.state);
  for (size_t l = 0; l < blocks_.size(); ++l) h = block_forward(*blocks_[l], h, cache.length, &cache.k[l], &cache.v[l]);
  cache.length += n;
  return logits(h);
}

void MotionLM::save(const std::string& path) const {
  nn::Module::save(path, {{kConfigKey, config_.to_json()}, {"format", "pianograd.motion_lm/1"}});
}

std::shared_ptr<MotionLM> MotionLM::load(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  const auto it = f.metadata.find(kConfigKey);
  if (it == f.metadata.end())
    throw ValueError("MotionLM.load: " + path + " is not a motion LM checkpoint (no \"" + kConfigKey + "\")");
  auto model = std::make_shared<MotionLM>(MotionLMConfig::from_json(it->second));
  try {
    model->load_state_dict(f.tensors, true);
  } catch (const Error& e) {
    throw ValueError("MotionLM.load: " + path + " does not match its config: " + e.what());
  }
  return model;
}

}  // namespace pianograd
