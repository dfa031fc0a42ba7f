// An interpolated modified Kneser–Ney n-gram language model over integer tokens (DESIGN.md §1: a baseline
// for the motion language model LM^M, scored on held-out performances in nats per token).
//
// The estimator is Chen & Goodman, "An Empirical Study of Smoothing Techniques for Language Modeling"
// (TR-10-98, 1998), §3.5 / eq. (17)-(19) in its interpolated form:
//
//   p(w | h) = max(a(hw) - D(a(hw)), 0) / Σ_v a(hv)  +  γ(h) · p(w | h')          h' = h minus its oldest token
//   γ(h)     = (D1·N1(h•) + D2·N2(h•) + D3+·N3+(h•)) / Σ_v a(hv)                  Nr(h•) = #{v : a(hv) = r (≥ 3)}
//   D(0) = 0, D(1) = D1, D(2) = D2, D(c ≥ 3) = D3+, one triple per order, from the count-of-counts n1..n4
//   of that order's counts a:  Y = n1/(n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3.
//
// The recursion ends in the uniform distribution 1/V over the vocabulary ([0, V)), so every token has a
// non-zero probability. A history h never seen in training contributes nothing: p(w | h) = p(w | h').
//
// Counts a (Kneser–Ney's "adjusted counts", as KenLM / SRILM define them):
//  * an n-gram of the highest order, or one that starts with BOS, keeps its raw count c;
//  * any other n-gram g of order k < N gets its continuation count N1+(•g) = #{x : x·g occurs} (C&G eq. 16
//    applied to every lower order), where x ranges over tokens and BOS.
//
// Beginning of sequence: each sequence is read as if preceded by one reserved symbol BOS (= V, never
// predicted). A history never reaches past BOS: at position i < N-1 the longest history is BOS s0..s(i-1)
// (KenLM's convention; padding N-1 copies of BOS would only repeat it). There is no end-of-sequence symbol:
// a sequence of length L contributes exactly L predictions, and sequence_nll sums L log-probabilities.
// A `context` passed to log_prob / next_distribution is a sequence *prefix*: only its last N-1 tokens
// matter, and when it has fewer than N-1 the sequence start (BOS) is implied before it.
//
// Const members keep no scratch state, so one fitted model may score from many threads at once.
//
// Degenerate counts: when an order's n1, n2 or n3 is zero, or a discount falls outside (0, k] for Dk
// (tiny corpora), that order uses KenLM's fallback discounts D1 = 0.5, D2 = 1.0, D3+ = 1.5.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pianograd {

namespace detail {
// Open-addressing (linear probing) map from a packed 64-bit key (id << 32 | token) to a 32-bit value:
// one flat allocation, no per-insert heap traffic — the counting pass does ~N lookups per training token.
class PackedKeyMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(uint32_t id, uint32_t token) { return (uint64_t{id} << 32) | token; }
  // The value for `key`, or `missing` when absent.
  uint32_t find(uint64_t key, uint32_t missing) const;
  // The slot of `key`, inserting it with value `init` when absent (`inserted` says which).
  uint32_t& find_or_insert(uint64_t key, uint32_t init, bool& inserted);
  size_t size() const { return size_; }
  void clear();
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] != kEmpty) f(keys_[i], vals_[i]);
  }
  void reserve(size_t n);

 private:
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> vals_;
  size_t size_ = 0;
};
}  // namespace detail

struct NGramEval {
  double total_nats = 0.0;  // Σ -ln p over every token of every sequence
  int64_t tokens = 0;
  // NaN when no token was scored.
  double nats_per_token() const;
};

class NGramLM {
 public:
  static constexpr int kMaxOrder = 8;

  // vocab_size >= 1 (tokens are [0, vocab_size)), order in [1, 8]; ValueError otherwise. An unfitted
  // model is the uniform distribution.
  explicit NGramLM(int32_t vocab_size, int order = 5);

  // Re-estimates the model from scratch. Every token must lie in [0, vocab_size): ValueError naming the
  // sequence index and position otherwise (the model is left unchanged). Empty sequences and an empty
  // corpus are allowed (the latter gives the uniform distribution).
  void fit(const std::vector<std::vector<int32_t>>& sequences);

  // ln p(token | context); context is a sequence prefix (see the header comment). ValueError for a token
  // or a context token outside [0, vocab_size).
  double log_prob(const int32_t* context, size_t context_len, int32_t token) const;
  double log_prob(const std::vector<int32_t>& context, int32_t token) const {
    return log_prob(context.data(), context.size(), token);
  }
  // p(· | context) over the whole vocabulary; sums to 1.
  std::vector<double> next_distribution(const int32_t* context, size_t context_len) const;
  std::vector<double> next_distribution(const std::vector<int32_t>& context) const {
    return next_distribution(context.data(), context.size());
  }
  // Σ_i -ln p(seq[i] | seq[0..i)) in nats, with the same BOS context as training.
  double sequence_nll(const int32_t* seq, size_t len) const;
  double sequence_nll(const std::vector<int32_t>& seq) const { return sequence_nll(seq.data(), seq.size()); }
  // Total nats and token count over a corpus; ValueError names the sequence and position of a bad token.
  NGramEval evaluate(const std::vector<std::vector<int32_t>>& sequences) const;

  // Binary, little-endian, versioned, with a checksum (format in ngram_lm.cpp); written atomically.
  // save: IOError naming the file when it cannot be written. load: FileNotFound when absent, IOError
  // naming the file for a truncated, corrupt or unsupported file.
  void save(const std::string& path) const;
  static NGramLM load(const std::string& path);

  int32_t vocab_size() const { return vocab_; }
  int order() const { return order_; }
  int32_t bos() const { return vocab_; }  // the reserved beginning-of-sequence symbol
  size_t num_contexts() const { return ctx_parent_.size(); }  // distinct histories, the empty one included
  size_t num_ngrams() const { return ent_token_.size(); }     // distinct n-grams of all orders
  // The discounts (D1, D2, D3+) of n-grams of order k in [1, order].
  std::array<double, 3> discounts(int k) const;

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};
  // Walks the history of `context` from its newest token back, writing the context ids of the histories
  // of lengths 0, 1, ... into ids; returns how many were found (>= 1: the empty history always is).
  int history_ids(const int32_t* context, size_t context_len, uint32_t* ids) const;
  double prob_from(const uint32_t* ids, int n_ids, int32_t token) const;
  // From the (context, token, count) table: discounts, per-context γ and 1/Σa, and the lookup map.
  void finalize();
  void check_token(int32_t token, const char* what) const;

  int32_t vocab_;
  int order_;
  // Histories form a trie grown from the newest token backwards: context id c has ctx_parent_[c] = the id
  // of c minus its oldest token, ctx_token_[c] = that oldest token. So the backoff history h' of C&G's
  // recursion is simply the parent, and one walk from the newest token visits every history in order.
  std::vector<uint32_t> ctx_parent_, ctx_token_;
  std::vector<uint8_t> ctx_len_;
  std::vector<uint64_t> ctx_begin_;        // n-grams of context c: entries [ctx_begin_[c], ctx_begin_[c+1])
  std::vector<double> ctx_inv_total_;      // 1 / Σ_v a(hv) (0 for a context with no n-grams)
  std::vector<double> ctx_gamma_;          // γ(h); 1 for a context with no n-grams (pure backoff)
  detail::PackedKeyMap ctx_index_;         // pack(parent, oldest token) -> context id
  std::vector<int32_t> ent_token_;         // sorted by token within each context
  std::vector<uint32_t> ent_count_;        // adjusted count a
  std::vector<std::array<double, 3>> disc_;  // disc_[k-1] = (D1, D2, D3+) of order k
};

}  // namespace pianograd
