#include "models/motion_gru.h"

#include <climits>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "autodiff/checkpoint.h"
#include "autodiff/errors.h"
#include "models/json_fields.h"
#include "autodiff/ops.h"

namespace pianograd {

namespace {
constexpr const char* kConfigKey = "motion_gru_config";
}  // namespace

void MotionGRUConfig::validate() const {
  auto req = [](bool ok, const std::string& what) {
    if (!ok) throw ValueError("MotionGRUConfig: " + what);
  };
  req(vocab_size >= 4, "vocab_size must be >= 4");
  req(d_embed >= 1 && hidden >= 1, "d_embed and hidden must be >= 1");
  req(n_layers >= 1, "n_layers must be >= 1");
  req(dropout >= 0 && dropout < 1, "dropout must be in [0, 1)");
}

std::string MotionGRUConfig::to_json() const {
  return nlohmann::json{{"vocab_size", vocab_size}, {"d_embed", d_embed}, {"hidden", hidden},
                        {"n_layers", n_layers}, {"dropout", dropout}, {"seed", seed}}
      .dump();
}

MotionGRUConfig MotionGRUConfig::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw ValueError(std::string("MotionGRUConfig.from_json: malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw ValueError("MotionGRUConfig.from_json: expected a JSON object");
  MotionGRUConfig c;
  for (const auto& [key, v] : j.items()) {
    try {
      if (key == "vocab_size") c.vocab_size = json_fields::integer(v);
      else if (key == "d_embed") c.d_embed = json_fields::integer(v);
      else if (key == "hidden") c.hidden = json_fields::integer(v);
      else if (key == "n_layers") c.n_layers = json_fields::integer(v);
      else if (key == "dropout") c.dropout = v.get<double>();
      else if (key == "seed") c.seed = json_fields::unsigned_integer(v);
      else throw ValueError("MotionGRUConfig.from_json: unknown key \"" + key + "\"");
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // nlohmann's type errors, json_fields' range errors
      throw ValueError("MotionGRUConfig.from_json: bad value for \"" + key + "\": " + e.what());
    }
  }
  c.validate();
  return c;
}

int64_t MotionGRUConfig::parameter_count() const {
  int64_t n = vocab_size * d_embed + hidden * vocab_size + vocab_size;
  for (int64_t l = 0; l < n_layers; ++l) n += 3 * hidden * ((l == 0 ? d_embed : hidden) + hidden) + 6 * hidden;
  return n;
}

MotionGRUConfig MotionGRUConfig::matching(const MotionLMConfig& lm, int64_t target, int64_t n_layers) {
  MotionGRUConfig c;
  c.vocab_size = lm.vocab_size;
  c.d_embed = lm.d_model;
  c.n_layers = n_layers;
  c.dropout = lm.dropout;
  c.seed = lm.seed;
  int64_t best = 1, best_err = INT64_MAX;
  for (int64_t h = 1; h <= 4096; ++h) {
    c.hidden = h;
    const int64_t err = std::llabs(c.parameter_count() - target);
    if (err < best_err) best = h, best_err = err;
  }
  c.hidden = best;
  return c;
}

MotionGRU::MotionGRU(const MotionGRUConfig& config) : config_(config) {
  config_.validate();
  manual_seed(config_.seed);
  embedding_ = register_module("embedding", std::make_shared<nn::Embedding>(config_.vocab_size, config_.d_embed));
  gru_ = register_module("gru", std::make_shared<nn::GRU>(config_.d_embed, config_.hidden, config_.n_layers));
  out_ = register_module("out", std::make_shared<nn::Linear>(config_.hidden, config_.vocab_size));
}

std::pair<Tensor, Tensor> MotionGRU::forward(const Tensor& tokens, const Tensor& h0) {
  const Tensor t64 = checked_tokens(tokens, config_.vocab_size, "MotionGRU");
  const bool drop = is_training() && config_.dropout > 0;
  Tensor x = embedding_->forward(t64);
  if (drop) x = dropout(x, config_.dropout, true, config_.seed * 104729 + ++dropout_calls_);
  auto [h, hn] = gru_->forward(x, h0);
  if (drop) h = dropout(h, config_.dropout, true, config_.seed * 104729 + ++dropout_calls_);
  return {out_->forward(h), hn};
}

Tensor MotionGRU::forward(const Tensor& tokens) { return forward(tokens, Tensor()).first; }

Tensor MotionGRU::loss(const Tensor& tokens, int64_t ignore) {
  if (tokens.dim() != 2 || tokens.shape()[1] < 2)
    throw ShapeError("MotionGRU.loss: tokens must be [B, T + 1] with T >= 1, got " + shape_str(tokens.shape()));
  const int64_t B = tokens.shape()[0], T = tokens.shape()[1] - 1;
  const Tensor t64 = checked_tokens(tokens, config_.vocab_size, "MotionGRU.loss");
  const Tensor y = forward(slice(t64, 1, 0, T));
  return cross_entropy(reshape(y, {B * T, config_.vocab_size}), reshape(slice(t64, 1, 1, T + 1), {B * T}), ignore);
}

void MotionGRU::save(const std::string& path) const {
  nn::Module::save(path, {{kConfigKey, config_.to_json()}, {"format", "pianograd.motion_gru/1"}});
}

std::shared_ptr<MotionGRU> MotionGRU::load(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  const auto it = f.metadata.find(kConfigKey);
  if (it == f.metadata.end())
    throw ValueError("MotionGRU.load: " + path + " is not a motion GRU checkpoint (no \"" + kConfigKey + "\")");
  auto model = std::make_shared<MotionGRU>(MotionGRUConfig::from_json(it->second));
  try {
    model->load_state_dict(f.tensors, true);
  } catch (const Error& e) {
    throw ValueError("MotionGRU.load: " + path + " does not match its config: " + e.what());
  }
  return model;
}

}  // namespace pianograd
