#include "models/motion_sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "autodiff/errors.h"
#include "autodiff/ops.h"

namespace pianograd {

namespace {

void check(const SamplingOptions& o) {
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    throw ValueError("generate: temperature must be > 0, got " + std::to_string(o.temperature));
  if (o.top_k < 0) throw ValueError("generate: top_k must be >= 0, got " + std::to_string(o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) throw ValueError("generate: top_p must be in (0, 1], got " + std::to_string(o.top_p));
  if (o.max_new_tokens < 1) throw ValueError("generate: max_new_tokens must be >= 1");
  if (!(o.max_seconds >= 0)) throw ValueError("generate: max_seconds must be >= 0");
  if (o.min_new_tokens < 0) throw ValueError("generate: min_new_tokens must be >= 0");
}

Tensor batch_tokens(const std::vector<std::vector<int32_t>>& rows, size_t from) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size() - from);
  Tensor t = zeros({B, T}, DType::i64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i) t.data<int64_t>()[b * T + i] = rows[static_cast<size_t>(b)][from + static_cast<size_t>(i)];
  return t;
}

// Restores the model's training flag on every exit path.
struct EvalScope {
  explicit EvalScope(MotionLM& m) : m_(m), was_(m.is_training()) { m.eval(); }
  ~EvalScope() { m_.train(was_); }
  MotionLM& m_;
  bool was_;
};

}  // namespace

int32_t sample_token(const float* logits, int64_t vocab, const SamplingOptions& o, const std::vector<int32_t>& banned,
                     double u) {
  std::vector<double> z(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) z[static_cast<size_t>(i)] = static_cast<double>(logits[i]) / o.temperature;
  for (int32_t b : banned) z[static_cast<size_t>(b)] = -INFINITY;
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return z[a] > z[b]; });
  const double zmax = z[static_cast<size_t>(order[0])];
  std::vector<double> p;
  double total = 0;
  for (int32_t t : order) {
    const double e = std::isinf(z[t]) ? 0.0 : std::exp(z[t] - zmax);
    p.push_back(e);
    total += e;
  }
  // Keep the k best, then the smallest prefix whose probability reaches top_p (at least one token).
  size_t keep = o.top_k > 0 ? std::min<size_t>(static_cast<size_t>(o.top_k), p.size()) : p.size();
  if (o.top_p < 1) {
    double mass = 0, kept_total = 0;
    for (size_t i = 0; i < keep; ++i) kept_total += p[i];
    size_t n = 0;
    while (n < keep && (n == 0 || mass < o.top_p * kept_total)) mass += p[n++];
    keep = n;
  }
  total = 0;
  for (size_t i = 0; i < keep; ++i) total += p[i];
  double acc = 0;
  const double target = u * total;
  for (size_t i = 0; i < keep; ++i) {
    acc += p[i];
    if (target < acc && p[i] > 0) return order[i];
  }
  return order[0];
}

std::vector<std::vector<int32_t>> generate(MotionLM& model, const MotionTokenizer& tok,
                                           const std::vector<std::vector<int32_t>>& prompts_in,
                                           const SamplingOptions& o) {
  check(o);
  if (prompts_in.empty()) throw ValueError("generate: no prompts");
  const int64_t V = model.config().vocab_size, ctx = model.config().context;
  if (V != tok.vocab_size())
    throw ValueError("generate: the model's vocabulary (" + std::to_string(V) + ") is not the tokenizer's (" +
                     std::to_string(tok.vocab_size()) + ")");
  // Equal-length prompts of at most context - 1 tokens (see the header), each starting with something.
  size_t len = SIZE_MAX;
  for (const auto& p : prompts_in) len = std::min(len, std::max<size_t>(p.size(), 1));
  if (len >= static_cast<size_t>(ctx - 1)) len = static_cast<size_t>(ctx / 2);
  std::vector<std::vector<int32_t>> seq;
  for (const auto& p : prompts_in) {
    std::vector<int32_t> s = p.empty() ? std::vector<int32_t>{MotionTokenizer::kBos}
                                       : std::vector<int32_t>(p.end() - static_cast<std::ptrdiff_t>(len), p.end());
    for (int32_t t : s) tok.kind(t);  // ValueError outside the vocabulary
    seq.push_back(std::move(s));
  }
  const size_t B = seq.size(), prompt_len = len;
  EvalScope eval(model);
  NoGrad ng;
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const std::vector<int32_t> banned = {MotionTokenizer::kPad, MotionTokenizer::kBos};
  const std::vector<int32_t> banned_early = {MotionTokenizer::kPad, MotionTokenizer::kBos, MotionTokenizer::kEos};
  std::vector<char> done(B, 0);
  std::vector<double> seconds(B, 0.0);
  KVCache cache = model.new_cache(static_cast<int64_t>(B));
  Tensor logits = o.use_cache ? model.step(batch_tokens(seq, 0), cache) : model.forward(batch_tokens(seq, 0));
  for (int64_t step = 0; step < o.max_new_tokens; ++step) {
    const int64_t T = logits.shape()[1];
    // A finished sequence is fed PAD (never sampled) so the batch stays rectangular.
    std::vector<int32_t> next(B, MotionTokenizer::kPad);
    for (size_t b = 0; b < B; ++b) {
      if (!done[b]) {
        const float* row = logits.data<float>() + (static_cast<int64_t>(b) * T + T - 1) * V;
        next[b] = sample_token(row, V, o, step < o.min_new_tokens ? banned_early : banned, uni(rng));
        const int32_t t = next[b];
        if (tok.kind(t) == TokenKind::shift) seconds[b] += tok.value(t) * tok.config().time_step;
        if (t == MotionTokenizer::kEos || (o.max_seconds > 0 && seconds[b] >= o.max_seconds)) done[b] = 1;
      }
      seq[b].push_back(next[b]);
    }
    if (std::all_of(done.begin(), done.end(), [](char d) { return d != 0; })) break;
    if (o.use_cache) {
      if (cache.length + 1 > ctx) {  // restart from the last context / 2 tokens
        cache = model.new_cache(static_cast<int64_t>(B));
        logits = model.step(batch_tokens(seq, seq[0].size() - static_cast<size_t>(ctx / 2)), cache);
      } else {
        Tensor one = zeros({static_cast<int64_t>(B), 1}, DType::i64);
        for (size_t b = 0; b < B; ++b) one.data<int64_t>()[b] = next[b];
        logits = model.step(one, cache);
      }
    } else {
      const size_t window = std::min<size_t>(seq[0].size(), static_cast<size_t>(ctx));
      logits = model.forward(batch_tokens(seq, seq[0].size() - window));
    }
  }
  std::vector<std::vector<int32_t>> out(B);
  for (size_t b = 0; b < B; ++b)
    for (size_t i = prompt_len; i < seq[b].size() && seq[b][i] != MotionTokenizer::kPad; ++i) {
      out[b].push_back(seq[b][i]);
      if (seq[b][i] == MotionTokenizer::kEos) break;
    }
  return out;
}

}  // namespace pianograd
