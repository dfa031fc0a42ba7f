// CTC decoders (models/ctc_decode.h). Prefixes of the beam live in a trie, so a prefix is one node id:
// merging equal prefixes is merging equal ids, a prefix's prior is computed once when its node is made,
// and extending a prefix costs no copy of its labels.
#include "models/ctc_decode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

#include "autodiff/device.h"
#include "kernels/cpu/ctc.h"
#include "autodiff/dispatch.h"

namespace pianograd {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

using kernels::cpu::log_add;

std::string num(int64_t v) { return std::to_string(v); }

// Row-wise log_softmax of the first `len` rows of x [*, C], in double; ValueError on a non-finite logit.
template <class F>
std::vector<double> log_softmax_rows(const F* x, int64_t len, int64_t C, const char* op) {
  std::vector<double> lp(size_t(len * C));
  for (int64_t t = 0; t < len; ++t) {
    const F* xt = x + t * C;
    double m = kNegInf;
    for (int64_t c = 0; c < C; ++c) {
      if (!std::isfinite(xt[c]))
        throw ValueError(std::string(op) + ": logits must be finite, found " + std::to_string(double(xt[c])) +
                         " at frame " + num(t) + ", class " + num(c));
      m = std::max(m, double(xt[c]));
    }
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += std::exp(double(xt[c]) - m);
    const double z = m + std::log(s);
    for (int64_t c = 0; c < C; ++c) lp[size_t(t * C + c)] = double(xt[c]) - z;
  }
  return lp;
}

template <class F>
std::vector<int64_t> greedy_one(const F* x, int64_t len, int64_t C, int64_t blank, const char* op) {
  std::vector<int64_t> out;
  int64_t prev = blank;
  for (int64_t t = 0; t < len; ++t) {
    const F* xt = x + t * C;
    int64_t best = 0;
    for (int64_t c = 0; c < C; ++c) {
      if (!std::isfinite(xt[c]))
        throw ValueError(std::string(op) + ": logits must be finite, found " + std::to_string(double(xt[c])) +
                         " at frame " + num(t) + ", class " + num(c));
      if (xt[c] > xt[best]) best = c;
    }
    if (best != blank && best != prev) out.push_back(best);
    prev = best;
  }
  return out;
}

void check_blank(int64_t blank, int64_t C, const char* op) {
  if (blank < 0 || blank >= C) throw IndexError(std::string(op) + ": blank " + num(blank) + " out of range [0, " + num(C) + ")");
}

struct Trie {
  struct Node {
    int64_t token;
    int parent;
    double prior;
  };
  std::vector<Node> nodes{{-1, -1, 0.0}};
  std::unordered_map<uint64_t, int> child_of;  // parent * C + token -> node

  std::vector<int64_t> labels(int n) const {
    std::vector<int64_t> out;
    for (; n > 0; n = nodes[size_t(n)].parent) out.push_back(nodes[size_t(n)].token);
    std::reverse(out.begin(), out.end());
    return out;
  }
};

// lp: [len, C] log-probabilities.
std::vector<std::pair<std::vector<int64_t>, double>> beam_search(const std::vector<double>& lp, int64_t len,
                                                                 int64_t C, const CtcBeamOptions& o) {
  const char* op = "ctc_beam_decode";
  if (o.beam < 1) throw ValueError(std::string(op) + ": beam must be >= 1, got " + std::to_string(o.beam));
  check_blank(o.blank, C, op);
  if (std::isnan(o.prune_log_prob)) throw ValueError(std::string(op) + ": prune_log_prob is NaN");
  const bool use_prior = o.prior && o.prior_weight != 0.f;
  struct Hyp {
    int node;
    double pb, pnb;  // ln p(alignments of the prefix ending in a blank / in its last label)
  };
  Trie trie;
  auto child = [&](int parent, int64_t c) {
    const uint64_t key = uint64_t(parent) * uint64_t(C) + uint64_t(c);
    auto it = trie.child_of.find(key);
    if (it != trie.child_of.end()) return it->second;
    double prior = trie.nodes[size_t(parent)].prior;
    if (use_prior) {
      const double p = o.prior(trie.labels(parent), c);
      if (std::isnan(p)) throw ValueError(std::string(op) + ": the prior returned NaN for next label " + num(c));
      prior += double(o.prior_weight) * p;
    }
    trie.nodes.push_back({c, parent, prior});
    const int id = int(trie.nodes.size() - 1);
    trie.child_of.emplace(key, id);
    return id;
  };
  auto score = [&](const Hyp& h) { return log_add(h.pb, h.pnb) + trie.nodes[size_t(h.node)].prior; };
  // Best first; equal scores by prefix, so the order never depends on hashing or on insertion.
  auto better = [&](const Hyp& a, const Hyp& b) {
    const double sa = score(a), sb = score(b);
    if (sa != sb) return sa > sb;
    return trie.labels(a.node) < trie.labels(b.node);
  };

  std::vector<Hyp> beam{{0, 0.0, kNegInf}}, next;
  std::unordered_map<int, size_t> slot_of;
  std::vector<int64_t> cands;
  for (int64_t t = 0; t < len; ++t) {
    const double* lt = lp.data() + t * C;
    cands.clear();
    const int64_t best = std::max_element(lt, lt + C) - lt;
    for (int64_t c = 0; c < C; ++c)
      if (c != o.blank && (lt[c] >= double(o.prune_log_prob) || c == best)) cands.push_back(c);
    next.clear();
    slot_of.clear();
    auto slot = [&](int node) {
      auto [it, fresh] = slot_of.try_emplace(node, next.size());
      if (fresh) next.push_back({node, kNegInf, kNegInf});
      return it->second;
    };
    for (const Hyp& h : beam) {
      const double total = log_add(h.pb, h.pnb);
      size_t i = slot(h.node);
      next[i].pb = log_add(next[i].pb, total + lt[o.blank]);
      const int64_t last = h.node > 0 ? trie.nodes[size_t(h.node)].token : -1;
      // The last label again without a blank in between continues the same prefix.
      if (last >= 0) next[i].pnb = log_add(next[i].pnb, h.pnb + lt[last]);
      for (int64_t c : cands) {
        // A repeated label starts a new token only after a blank: from the blank-ending mass alone.
        const double from = c == last ? h.pb : total;
        if (from == kNegInf) continue;
        i = slot(child(h.node, c));
        next[i].pnb = log_add(next[i].pnb, from + lt[c]);
      }
    }
    next.erase(std::remove_if(next.begin(), next.end(), [&](const Hyp& h) { return !(score(h) > kNegInf); }),
               next.end());
    const size_t keep = std::min(next.size(), size_t(o.beam));
    std::partial_sort(next.begin(), next.begin() + long(keep), next.end(), better);
    next.resize(keep);
    std::swap(beam, next);
  }
  std::sort(beam.begin(), beam.end(), better);
  std::vector<std::pair<std::vector<int64_t>, double>> out;
  for (const Hyp& h : beam) out.emplace_back(trie.labels(h.node), score(h));
  return out;
}

}  // namespace

std::vector<std::vector<int64_t>> ctc_greedy_decode(const Tensor& logits, const Tensor& input_lengths, int64_t blank) {
  const char* op = "ctc_greedy_decode";
  check_floating(logits, op);
  check_cpu(logits, op);
  if (logits.dim() != 3) throw ShapeError(std::string(op) + ": logits must be [B,T,C], got shape " + shape_str(logits.shape()));
  check_defined(input_lengths, op, "input_lengths");
  check_cpu(input_lengths, op);
  if (input_lengths.dtype() != DType::i64 && input_lengths.dtype() != DType::i32)
    throw DTypeError(std::string(op) + ": input_lengths must be int32 or int64, got " + dtype_name(input_lengths.dtype()));
  const int64_t B = logits.size(0), T = logits.size(1), C = logits.size(2);
  if (input_lengths.shape() != Shape{B})
    throw ShapeError(std::string(op) + ": input_lengths must be [B] = " + shape_str({B}) + " for logits " +
                     shape_str(logits.shape()) + ", got " + shape_str(input_lengths.shape()));
  check_blank(blank, C, op);
  const Tensor lens = input_lengths.to(DType::i64);
  const int64_t* pl = lens.data<int64_t>();
  for (int64_t b = 0; b < B; ++b)
    if (pl[b] < 0 || pl[b] > T)
      throw ValueError(std::string(op) + ": input_lengths[" + num(b) + "] = " + num(pl[b]) + " out of range [0, T = " +
                       num(T) + "]");
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(B));
  dispatch_floating(logits.dtype(), op, [&](auto tag) {
    using F = decltype(tag);
    for (int64_t b = 0; b < B; ++b) out[size_t(b)] = greedy_one(logits.data<F>() + b * T * C, pl[b], C, blank, op);
    return 0;
  });
  return out;
}

std::vector<int64_t> ctc_greedy_decode(const float* logits, int64_t length, int64_t classes, int64_t blank) {
  const char* op = "ctc_greedy_decode";
  if (length < 0) throw ValueError(std::string(op) + ": length must be >= 0, got " + num(length));
  check_blank(blank, classes, op);
  return greedy_one(logits, length, classes, blank, op);
}

std::vector<std::pair<std::vector<int64_t>, double>> ctc_beam_decode(const Tensor& logits, int64_t length,
                                                                     const CtcBeamOptions& options) {
  const char* op = "ctc_beam_decode";
  check_floating(logits, op);
  check_cpu(logits, op);
  if (logits.dim() != 2)
    throw ShapeError(std::string(op) + ": logits must be [T,C] (one sequence), got shape " + shape_str(logits.shape()));
  const int64_t T = logits.size(0), C = logits.size(1);
  if (length < 0) length = T;
  if (length > T)
    throw ValueError(std::string(op) + ": length " + num(length) + " exceeds the " + num(T) + " frames of logits " +
                     shape_str(logits.shape()));
  check_blank(options.blank, C, op);
  const std::vector<double> lp = dispatch_floating(logits.dtype(), op, [&](auto tag) {
    using F = decltype(tag);
    return log_softmax_rows(logits.data<F>(), length, C, op);
  });
  return beam_search(lp, length, C, options);
}

std::vector<std::pair<std::vector<int64_t>, double>> ctc_beam_decode(const float* logits, int64_t length,
                                                                     int64_t classes, const CtcBeamOptions& options) {
  const char* op = "ctc_beam_decode";
  if (length < 0) throw ValueError(std::string(op) + ": length must be >= 0, got " + num(length));
  check_blank(options.blank, classes, op);
  return beam_search(log_softmax_rows(logits, length, classes, op), length, classes, options);
}

}  // namespace pianograd
