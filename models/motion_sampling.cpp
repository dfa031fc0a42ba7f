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

// Rows of different lengths made equal, each left-padded with BOS to the longest: a lone BOS is how
// every training sequence starts, and the model reads the padding as a sequence start.
std::vector<std::vector<int32_t>> padded_rows(const std::vector<std::vector<int32_t>>& rows) {
  size_t T = 0;
  for (const auto& r : rows) T = std::max(T, r.size());
  std::vector<std::vector<int32_t>> padded;
  for (const auto& r : rows) {
    std::vector<int32_t> p(T - r.size(), MotionTokenizer::kBos);
    p.insert(p.end(), r.begin(), r.end());
    padded.push_back(std::move(p));
  }
  return padded;
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

std::vector<int32_t> restart_window(const MotionTokenizer& tok, const std::vector<int32_t>& seq, size_t tail) {
  const size_t from = seq.size() > tail ? seq.size() - tail : 0;
  // The state where the tail starts: notes sounding (with the velocity bin of their note-on, several per
  // key when a key was struck again before its release), the pedal, the current velocity bin.
  std::vector<std::vector<int>> sounding(kNumKeys);
  const int mid_bin = tok.config().velocity_bins / 2;
  int bin = mid_bin;
  bool down = false;
  for (size_t i = 0; i < from; ++i) {
    const int32_t t = seq[i];
    switch (tok.kind(t)) {
      case TokenKind::velocity: bin = tok.value(t); break;
      case TokenKind::note_on: sounding[static_cast<size_t>(tok.value(t) - kMinKey)].push_back(bin); break;
      case TokenKind::note_off: {
        auto& q = sounding[static_cast<size_t>(tok.value(t) - kMinKey)];
        if (!q.empty()) q.erase(q.begin());  // the oldest note of the key ends, as decode() reads it
        break;
      }
      case TokenKind::pedal_on: down = true; break;
      case TokenKind::pedal_off: down = false; break;
      default: break;
    }
  }
  // BOS, then the state as events at one time in the tokenizer's order (pedal down, then per key its
  // VELOCITY when the bin changes and the NOTE_ON), the current bin, then the tail itself.
  std::vector<int32_t> w{MotionTokenizer::kBos};
  if (from > 0) {
    if (down) w.push_back(tok.pedal_on());
    int last = mid_bin;
    for (int k = 0; k < kNumKeys; ++k)
      for (int b : sounding[static_cast<size_t>(k)]) {
        if (b != last) w.push_back(tok.velocity(b)), last = b;
        w.push_back(tok.note_on(kMinKey + k));
      }
    if (bin != last) w.push_back(tok.velocity(bin));
  }
  w.insert(w.end(), seq.begin() + static_cast<std::ptrdiff_t>(from), seq.end());
  if (w.size() > 1 && w[1] == MotionTokenizer::kBos) w.erase(w.begin());  // the tail is the whole sequence
  return w;
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
  // Equal-length prompts (see the header), each starting with something; the model reads a prompt
  // longer than the context as its restart window.
  size_t len = SIZE_MAX;
  for (const auto& p : prompts_in) len = std::min(len, std::max<size_t>(p.size(), 1));
  std::vector<std::vector<int32_t>> seq;
  for (const auto& p : prompts_in) {
    std::vector<int32_t> s = p.empty() ? std::vector<int32_t>{MotionTokenizer::kBos}
                                       : std::vector<int32_t>(p.end() - static_cast<std::ptrdiff_t>(len), p.end());
    for (int32_t t : s) tok.kind(t);  // ValueError outside the vocabulary
    seq.push_back(std::move(s));
  }
  const size_t B = seq.size(), prompt_len = len;
  const size_t tail = static_cast<size_t>(ctx / 2);
  // The window the model reads, one equal-length row per sequence: the prompt while it fits, then each
  // new token, and at the context the restart window (state summary + last context / 2 tokens). The
  // cached and the uncached paths read the same windows, so they sample the same tokens.
  auto restart = [&]() {
    std::vector<std::vector<int32_t>> w;
    for (const auto& s : seq) w.push_back(restart_window(tok, s, tail));
    w = padded_rows(w);
    // A tiny context with many notes sounding: the summary's oldest part gives way to the context.
    for (auto& r : w)
      if (r.size() + 1 > static_cast<size_t>(ctx)) r.erase(r.begin(), r.end() - (ctx - 1));
    return w;
  };
  std::vector<std::vector<int32_t>> win = len + 1 < static_cast<size_t>(ctx) ? seq : restart();
  EvalScope eval(model);
  NoGrad ng;
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const std::vector<int32_t> banned = {MotionTokenizer::kPad, MotionTokenizer::kBos};
  const std::vector<int32_t> banned_early = {MotionTokenizer::kPad, MotionTokenizer::kBos, MotionTokenizer::kEos};
  std::vector<char> done(B, 0);
  std::vector<double> seconds(B, 0.0);
  // Notes sounding per key and sequence, from the prompt on (for the piano grammar).
  std::vector<std::vector<int>> sounding(B, std::vector<int>(kNumKeys, 0));
  auto track = [&](size_t b, int32_t t) {
    const TokenKind k = tok.kind(t);
    if (k == TokenKind::note_on) ++sounding[b][static_cast<size_t>(tok.value(t) - kMinKey)];
    if (k == TokenKind::note_off && sounding[b][static_cast<size_t>(tok.value(t) - kMinKey)] > 0)
      --sounding[b][static_cast<size_t>(tok.value(t) - kMinKey)];
  };
  for (size_t b = 0; b < B; ++b)
    for (int32_t t : prompts_in[b].empty() ? std::vector<int32_t>{} : prompts_in[b]) track(b, t);
  std::vector<int32_t> ban;
  KVCache cache = model.new_cache(static_cast<int64_t>(B));
  Tensor logits = o.use_cache ? model.step(batch_tokens(win, 0), cache) : model.forward(batch_tokens(win, 0));
  for (int64_t step = 0; step < o.max_new_tokens; ++step) {
    const int64_t T = logits.shape()[1];
    // A finished sequence is fed PAD (never sampled) so the batch stays rectangular.
    std::vector<int32_t> next(B, MotionTokenizer::kPad);
    for (size_t b = 0; b < B; ++b) {
      if (!done[b]) {
        const float* row = logits.data<float>() + (static_cast<int64_t>(b) * T + T - 1) * V;
        ban = step < o.min_new_tokens ? banned_early : banned;
        if (o.piano_grammar)
          for (int k = 0; k < kNumKeys; ++k)
            ban.push_back(sounding[b][static_cast<size_t>(k)] > 0 ? tok.note_on(kMinKey + k) : tok.note_off(kMinKey + k));
        next[b] = sample_token(row, V, o, ban, uni(rng));
        const int32_t t = next[b];
        track(b, t);
        if (tok.kind(t) == TokenKind::shift) seconds[b] += tok.value(t) * tok.config().time_step;
        if (t == MotionTokenizer::kEos || (o.max_seconds > 0 && seconds[b] >= o.max_seconds)) done[b] = 1;
      }
      seq[b].push_back(next[b]);
    }
    if (std::all_of(done.begin(), done.end(), [](char d) { return d != 0; })) break;
    const bool restarted = win[0].size() + 1 > static_cast<size_t>(ctx);
    if (restarted) {
      win = restart();
    } else {
      for (size_t b = 0; b < B; ++b) win[b].push_back(next[b]);
    }
    if (!o.use_cache) {
      logits = model.forward(batch_tokens(win, 0));
    } else if (restarted) {
      cache = model.new_cache(static_cast<int64_t>(B));
      logits = model.step(batch_tokens(win, 0), cache);
    } else {
      Tensor one = zeros({static_cast<int64_t>(B), 1}, DType::i64);
      for (size_t b = 0; b < B; ++b) one.data<int64_t>()[b] = next[b];
      logits = model.step(one, cache);
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
