#include "models/motion_scoring.h"

#include <algorithm>

#include "autodiff/errors.h"
#include "autodiff/ops.h"

namespace pianograd {

namespace {

Tensor row(const std::vector<int32_t>& t, size_t from, size_t len) {
  Tensor x = zeros({1, static_cast<int64_t>(len)}, DType::i64);
  for (size_t i = 0; i < len; ++i) x.data<int64_t>()[i] = t[from + i];
  return x;
}

// -log softmax(logits[pos])[target] for the positions [first, last) of a [1, L, V] logits tensor, where
// position p predicts tokens[from + p + 1].
void gather_nll(const Tensor& logits, const std::vector<int32_t>& tokens, size_t from, size_t first, size_t last,
                std::vector<float>& out) {
  const Tensor lp = log_softmax(logits, -1);
  const int64_t V = logits.shape()[2];
  for (size_t p = first; p < last; ++p) out.push_back(-lp.data<float>()[static_cast<int64_t>(p) * V + tokens[from + p + 1]]);
}

template <class M>
struct EvalScope {
  explicit EvalScope(M& m) : m_(m), was_(m.is_training()) { m.eval(); }
  ~EvalScope() { m_.train(was_); }
  M& m_;
  bool was_;
};

}  // namespace

std::vector<float> token_nll(MotionLM& model, const std::vector<int32_t>& tokens) {
  std::vector<float> out;
  if (tokens.size() < 2) return out;
  EvalScope<MotionLM> scope(model);
  NoGrad ng;
  const size_t n = tokens.size(), ctx = static_cast<size_t>(model.config().context), stride = ctx / 2;
  size_t done = 0;  // tokens[1 .. done] are scored
  // The piano's state where each window starts (read by a model with state_features): the windows see
  // a sounding note as sounding even when its NOTE_ON lies before them.
  const MotionTokenizer tok;
  std::vector<MotionState> state(1);
  size_t state_at = 0;
  for (size_t start = 0; done + 1 < n; start += stride) {
    const size_t len = std::min(ctx, n - start);
    if (model.config().state_features)
      for (; state_at < start; ++state_at) advance(tok, state[0], tokens[state_at]);
    const Tensor logits = model.forward(row(tokens, start, len), state);
    // Window positions p predict tokens[start + p + 1]; keep those not scored yet.
    const size_t first = done - start, last = len - 1;
    gather_nll(logits, tokens, start, first, last, out);
    done = start + last;
  }
  return out;
}

std::vector<float> token_nll(MotionGRU& model, const std::vector<int32_t>& tokens, int64_t chunk) {
  if (chunk < 1) throw ValueError("token_nll: chunk must be >= 1");
  std::vector<float> out;
  if (tokens.size() < 2) return out;
  EvalScope<MotionGRU> scope(model);
  NoGrad ng;
  Tensor h;
  const size_t n = tokens.size() - 1;  // inputs tokens[0 .. n), each predicting the next
  for (size_t from = 0; from < n; from += static_cast<size_t>(chunk)) {
    const size_t len = std::min(static_cast<size_t>(chunk), n - from);
    auto [logits, hn] = model.forward(row(tokens, from, len), h);
    h = hn;
    gather_nll(logits, tokens, from, 0, len, out);
  }
  return out;
}

}  // namespace pianograd
