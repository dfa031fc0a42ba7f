// Interpolated modified Kneser–Ney n-gram LM (ngram_lm.h has the estimator and the BOS convention).
//
// Fitting is one pass over the corpus. At position i the n-grams ending there have orders 1..top, with
// top = min(N, i + 2) (order i + 2 is the one that starts with BOS). The top one is the only one that keeps
// its raw count (it is of order N or starts with BOS); each lower one, g_k, gets +1 to its continuation
// count exactly when its left extension g_(k+1) is a type never seen before. And when g_(k+1) was seen
// before, so were all of its suffixes: the walk down stops there, so a token costs N-1 history lookups and
// usually one or two n-gram insertions.
#include "models/ngram_lm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "autodiff/errors.h"
#include "synth/atomic_file.h"

namespace pianograd {

static_assert(std::endian::native == std::endian::little, "the NGramLM file format is little-endian");

namespace detail {

namespace {
// splitmix64's finaliser: packed keys differ in few low bits, so they need a real mix before masking.
inline uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint32_t PackedKeyMap::find(uint64_t key, uint32_t missing) const {
  if (keys_.empty()) return missing;
  const size_t mask = keys_.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys_[i] == key) return vals_[i];
    if (keys_[i] == kEmpty) return missing;
  }
}

uint32_t& PackedKeyMap::find_or_insert(uint64_t key, uint32_t init, bool& inserted) {
  if (2 * (size_ + 1) > keys_.size()) reserve(std::max<size_t>(2 * size_ + 2, 16));  // load <= 1/2
  const size_t mask = keys_.size() - 1;
  size_t i = mix(key) & mask;
  for (; keys_[i] != kEmpty; i = (i + 1) & mask)
    if (keys_[i] == key) {
      inserted = false;
      return vals_[i];
    }
  keys_[i] = key;
  vals_[i] = init;
  ++size_;
  inserted = true;
  return vals_[i];
}

void PackedKeyMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  if (cap <= keys_.size()) return;
  std::vector<uint64_t> old_keys(cap, kEmpty);
  std::vector<uint32_t> old_vals(cap);
  old_keys.swap(keys_);
  old_vals.swap(vals_);
  const size_t mask = cap - 1;
  for (size_t j = 0; j < old_keys.size(); ++j) {
    if (old_keys[j] == kEmpty) continue;
    size_t i = mix(old_keys[j]) & mask;
    while (keys_[i] != kEmpty) i = (i + 1) & mask;
    keys_[i] = old_keys[j];
    vals_[i] = old_vals[j];
  }
}

void PackedKeyMap::clear() {
  keys_.clear();
  vals_.clear();
  size_ = 0;
}

}  // namespace detail

namespace {

using detail::PackedKeyMap;

// Chen & Goodman eq. (26): Y = n1/(n1+2n2), D1 = 1-2Y n2/n1, D2 = 2-3Y n3/n2, D3+ = 3-4Y n4/n3, from the
// count-of-counts n_r of one order. Where they are undefined or leave (0, r] (tiny corpora), KenLM's
// fallback (0.5, 1, 1.5) keeps every γ > 0 and every discounted count >= 0.
std::array<double, 3> mkn_discounts(const std::array<uint64_t, 5>& n) {
  const std::array<double, 3> fallback{0.5, 1.0, 1.5};
  if (n[1] == 0 || n[2] == 0 || n[3] == 0) return fallback;
  const double n1 = double(n[1]), n2 = double(n[2]), n3 = double(n[3]), n4 = double(n[4]);
  const double y = n1 / (n1 + 2.0 * n2);
  const std::array<double, 3> d{1.0 - 2.0 * y * n2 / n1, 2.0 - 3.0 * y * n3 / n2, 3.0 - 4.0 * y * n4 / n3};
  for (int r = 0; r < 3; ++r)
    if (!(d[r] > 0.0 && d[r] <= r + 1.0)) return fallback;
  return d;
}

std::string token_error(const char* what, int64_t seq, size_t pos, int32_t token, int32_t vocab) {
  std::string s = std::string(what) + ": ";
  if (seq >= 0) s += "sequence " + std::to_string(seq) + ", ";
  return s + "position " + std::to_string(pos) + ": token " + std::to_string(token) + " outside [0, " +
         std::to_string(vocab) + ")";
}

void check_tokens(const char* what, int64_t seq, const int32_t* s, size_t len, int32_t vocab) {
  for (size_t i = 0; i < len; ++i)
    if (s[i] < 0 || s[i] >= vocab) throw ValueError(token_error(what, seq, i, s[i], vocab));
}

}  // namespace

double NGramEval::nats_per_token() const {
  return tokens > 0 ? total_nats / double(tokens) : std::numeric_limits<double>::quiet_NaN();
}

NGramLM::NGramLM(int32_t vocab_size, int order) : vocab_(vocab_size), order_(order) {
  // vocab_size itself is BOS, so it must stay a valid int32 token id.
  if (vocab_size < 1 || vocab_size == std::numeric_limits<int32_t>::max())
    throw ValueError("NGramLM: vocab_size must be in [1, 2^31-2], got " + std::to_string(vocab_size));
  if (order < 1 || order > kMaxOrder)
    throw ValueError("NGramLM: order must be in [1, " + std::to_string(kMaxOrder) + "], got " +
                     std::to_string(order));
  fit({});
}

void NGramLM::fit(const std::vector<std::vector<int32_t>>& sequences) {
  uint64_t total = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    check_tokens("NGramLM.fit", int64_t(s), sequences[s].data(), sequences[s].size(), vocab_);
    total += sequences[s].size();
  }
  // Raw counts are 32-bit; so are context ids (there are fewer contexts than tokens).
  if (total >= std::numeric_limits<uint32_t>::max())
    throw ValueError("NGramLM.fit: " + std::to_string(total) + " tokens; at most 2^32-2 are supported");

  const uint32_t bos = uint32_t(vocab_);
  std::vector<uint32_t> parent{kNone}, ctx_tok{kNone};
  std::vector<uint8_t> ctx_len{0};
  PackedKeyMap ctx_index, ngrams;  // ngrams: pack(context id, token) -> adjusted count
  ctx_index.reserve(std::min<uint64_t>(total, uint64_t{1} << 24));
  ngrams.reserve(std::min<uint64_t>(total, uint64_t{1} << 24));
  uint32_t ids[kMaxOrder];
  for (const auto& seq : sequences) {
    for (size_t i = 0; i < seq.size(); ++i) {
      const uint32_t w = uint32_t(seq[i]);
      const int top = int(std::min<size_t>(size_t(order_), i + 2));
      ids[0] = 0;
      for (int j = 1; j < top; ++j) {  // history of length j: s[i-j] .. s[i-1], BOS at i - j = -1
        const uint32_t x = size_t(j) <= i ? uint32_t(seq[i - size_t(j)]) : bos;
        bool inserted = false;
        ids[j] = ctx_index.find_or_insert(PackedKeyMap::pack(ids[j - 1], x), uint32_t(parent.size()), inserted);
        if (inserted) {
          if (parent.size() >= kNone) throw ValueError("NGramLM.fit: more than 2^32-2 distinct histories");
          parent.push_back(ids[j - 1]);
          ctx_tok.push_back(x);
          ctx_len.push_back(uint8_t(j));
        }
      }
      bool is_new = false;
      ++ngrams.find_or_insert(PackedKeyMap::pack(ids[top - 1], w), 0, is_new);  // raw count of the top n-gram
      for (int k = top - 1; k >= 1 && is_new; --k)  // continuation counts N1+(•g), C&G eq. (16)
        ++ngrams.find_or_insert(PackedKeyMap::pack(ids[k - 1], w), 0, is_new);
    }
  }

  // Entries grouped by context (a counting sort), then sorted by token within each context.
  const size_t n_ctx = parent.size();
  std::vector<uint64_t> begin(n_ctx + 1, 0);
  ngrams.for_each([&](uint64_t key, uint32_t) { ++begin[(key >> 32) + 1]; });
  for (size_t c = 0; c < n_ctx; ++c) begin[c + 1] += begin[c];
  std::vector<uint64_t> cursor(begin.begin(), begin.end() - 1);
  std::vector<std::pair<int32_t, uint32_t>> ent(ngrams.size());
  ngrams.for_each([&](uint64_t key, uint32_t count) {
    ent[cursor[key >> 32]++] = {int32_t(uint32_t(key)), count};
  });
  ngrams.clear();
  for (size_t c = 0; c < n_ctx; ++c) std::sort(ent.begin() + ptrdiff_t(begin[c]), ent.begin() + ptrdiff_t(begin[c + 1]));

  ctx_parent_ = std::move(parent);
  ctx_token_ = std::move(ctx_tok);
  ctx_len_ = std::move(ctx_len);
  ctx_begin_ = std::move(begin);
  ctx_index_ = std::move(ctx_index);
  ent_token_.resize(ent.size());
  ent_count_.resize(ent.size());
  for (size_t e = 0; e < ent.size(); ++e) {
    ent_token_[e] = ent[e].first;
    ent_count_[e] = ent[e].second;
  }
  finalize();
}

void NGramLM::finalize() {
  const size_t n_ctx = ctx_parent_.size();
  // Count-of-counts n1..n4 per order (order = history length + 1), then the discounts of eq. (26).
  std::vector<std::array<uint64_t, 5>> coc(size_t(order_), std::array<uint64_t, 5>{});
  for (size_t c = 0; c < n_ctx; ++c)
    for (uint64_t e = ctx_begin_[c]; e < ctx_begin_[c + 1]; ++e)
      if (ent_count_[e] <= 4) ++coc[ctx_len_[c]][ent_count_[e]];
  disc_.resize(size_t(order_));
  for (int k = 0; k < order_; ++k) disc_[size_t(k)] = mkn_discounts(coc[size_t(k)]);

  // γ(h) = (D1 N1(h•) + D2 N2(h•) + D3+ N3+(h•)) / Σ_v a(hv), eq. (19): exactly the mass the discounts
  // removed, so each level's distribution sums to 1 given that the level below does.
  ctx_inv_total_.assign(n_ctx, 0.0);
  ctx_gamma_.assign(n_ctx, 1.0);
  for (size_t c = 0; c < n_ctx; ++c) {
    const auto& d = disc_[ctx_len_[c]];
    double total = 0.0, removed = 0.0;
    for (uint64_t e = ctx_begin_[c]; e < ctx_begin_[c + 1]; ++e) {
      total += ent_count_[e];
      removed += d[std::min<uint32_t>(ent_count_[e], 3) - 1];
    }
    if (total > 0.0) {
      ctx_inv_total_[c] = 1.0 / total;
      ctx_gamma_[c] = removed / total;
    }
  }
}

std::array<double, 3> NGramLM::discounts(int k) const {
  if (k < 1 || k > order_)
    throw ValueError("NGramLM.discounts: order " + std::to_string(k) + " outside [1, " + std::to_string(order_) + "]");
  return disc_[size_t(k - 1)];
}

int NGramLM::history_ids(const int32_t* context, size_t context_len, uint32_t* ids) const {
  ids[0] = 0;
  int n = 1;
  for (int j = 1; j < order_; ++j) {
    const uint32_t x = size_t(j) <= context_len ? uint32_t(context[context_len - size_t(j)]) : uint32_t(vocab_);
    const uint32_t id = ctx_index_.find(PackedKeyMap::pack(ids[j - 1], x), kNone);
    if (id == kNone) break;  // an unseen history: it and every longer one contribute nothing
    ids[n++] = id;
    if (x == uint32_t(vocab_)) break;  // nothing precedes BOS
  }
  return n;
}

double NGramLM::prob_from(const uint32_t* ids, int n_ids, int32_t token) const {
  // p_k = max(a - D(a), 0)/Σa + γ p_(k-1), from the uniform 1/V upwards (C&G eq. 17 unrolled).
  double p = 1.0 / double(vocab_);
  for (int j = 0; j < n_ids; ++j) {
    const uint32_t c = ids[j];
    const int32_t* lo = ent_token_.data() + ctx_begin_[c];
    const int32_t* hi = ent_token_.data() + ctx_begin_[c + 1];
    const int32_t* it = std::lower_bound(lo, hi, token);
    double alpha = 0.0;
    if (it != hi && *it == token) {
      const uint32_t a = ent_count_[size_t(it - ent_token_.data())];
      alpha = (double(a) - disc_[ctx_len_[c]][std::min<uint32_t>(a, 3) - 1]) * ctx_inv_total_[c];
    }
    p = alpha + ctx_gamma_[c] * p;
  }
  return p;
}

void NGramLM::check_token(int32_t token, const char* what) const {
  if (token < 0 || token >= vocab_)
    throw ValueError(std::string(what) + ": token " + std::to_string(token) + " outside [0, " +
                     std::to_string(vocab_) + ")");
}

double NGramLM::log_prob(const int32_t* context, size_t context_len, int32_t token) const {
  check_token(token, "NGramLM.log_prob");
  check_tokens("NGramLM.log_prob: context", -1, context, context_len, vocab_);
  uint32_t ids[kMaxOrder];
  const int n = history_ids(context, context_len, ids);
  return std::log(prob_from(ids, n, token));
}

std::vector<double> NGramLM::next_distribution(const int32_t* context, size_t context_len) const {
  check_tokens("NGramLM.next_distribution: context", -1, context, context_len, vocab_);
  uint32_t ids[kMaxOrder];
  const int n = history_ids(context, context_len, ids);
  std::vector<double> p(size_t(vocab_), 1.0 / double(vocab_));
  for (int j = 0; j < n; ++j) {
    const uint32_t c = ids[j];
    const auto& d = disc_[ctx_len_[c]];
    const double g = ctx_gamma_[c], inv = ctx_inv_total_[c];
    if (g != 1.0)
      for (double& v : p) v *= g;
    for (uint64_t e = ctx_begin_[c]; e < ctx_begin_[c + 1]; ++e) {
      const uint32_t a = ent_count_[e];
      p[size_t(ent_token_[e])] += (double(a) - d[std::min<uint32_t>(a, 3) - 1]) * inv;
    }
  }
  return p;
}

double NGramLM::sequence_nll(const int32_t* seq, size_t len) const {
  check_tokens("NGramLM.sequence_nll", -1, seq, len, vocab_);
  double nll = 0.0;
  uint32_t ids[kMaxOrder];
  for (size_t i = 0; i < len; ++i) {
    const int n = history_ids(seq, i, ids);  // the context is the prefix seq[0..i)
    nll -= std::log(prob_from(ids, n, seq[i]));
  }
  return nll;
}

NGramEval NGramLM::evaluate(const std::vector<std::vector<int32_t>>& sequences) const {
  for (size_t s = 0; s < sequences.size(); ++s)
    check_tokens("NGramLM.evaluate", int64_t(s), sequences[s].data(), sequences[s].size(), vocab_);
  NGramEval r;
  for (const auto& seq : sequences) {
    r.total_nats += sequence_nll(seq.data(), seq.size());
    r.tokens += int64_t(seq.size());
  }
  return r;
}

// ---- file format, version 1 (little-endian) ----
//   "PGNGRAM\0"  u32 version = 1  i32 vocab_size  u32 order  u32 reserved = 0  u64 n_ctx  u64 n_entries
//   n_ctx    x { u32 parent, u32 oldest token (BOS = vocab_size), u32 number of entries }   (id order;
//              context 0 is the empty history, stored as {0xffffffff, 0xffffffff, n})
//   n_entries x { i32 token, u32 adjusted count }   (grouped by context, tokens ascending)
//   u64 FNV-1a hash of every byte before it
// Discounts, γ and 1/Σa are derived on load, so a file cannot hold values inconsistent with its counts.
namespace {
constexpr char kMagic[8] = {'P', 'G', 'N', 'G', 'R', 'A', 'M', '\0'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 * 4 + 8 * 2;

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* b = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), b, b + sizeof(T));
}

template <class T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
}  // namespace

void NGramLM::save(const std::string& path) const {
  const size_t n_ctx = ctx_parent_.size(), n_ent = ent_token_.size();
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + 12 * n_ctx + 8 * n_ent + 8);
  out.insert(out.end(), kMagic, kMagic + 8);
  put<uint32_t>(out, kVersion);
  put<int32_t>(out, vocab_);
  put<uint32_t>(out, uint32_t(order_));
  put<uint32_t>(out, 0);
  put<uint64_t>(out, n_ctx);
  put<uint64_t>(out, n_ent);
  for (size_t c = 0; c < n_ctx; ++c) {
    put<uint32_t>(out, ctx_parent_[c]);
    put<uint32_t>(out, ctx_token_[c]);
    put<uint32_t>(out, uint32_t(ctx_begin_[c + 1] - ctx_begin_[c]));
  }
  for (size_t e = 0; e < n_ent; ++e) {
    put<int32_t>(out, ent_token_[e]);
    put<uint32_t>(out, ent_count_[e]);
  }
  put<uint64_t>(out, fnv1a(out.data(), out.size()));
  detail::write_bytes_atomically(path, "NGramLM.save", out.data(), out.size());
}

NGramLM NGramLM::load(const std::string& path) {
  auto corrupt = [&](const std::string& what) { return IOError("NGramLM.load: '" + path + "': " + what); };
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw FileNotFound("NGramLM.load: no such file: '" + path + "'");
    throw IOError("NGramLM.load: cannot open '" + path + "'");
  }
  const std::vector<uint8_t> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw corrupt("read error");
  if (buf.size() < kHeaderBytes + 8) throw corrupt("truncated: " + std::to_string(buf.size()) + " bytes");
  if (std::memcmp(buf.data(), kMagic, 8) != 0) throw corrupt("not an NGramLM file (bad magic)");
  const uint8_t* p = buf.data() + 8;
  const uint32_t version = get<uint32_t>(p);
  if (version != kVersion)
    throw corrupt("unsupported version " + std::to_string(version) + " (this build reads " + std::to_string(kVersion) + ")");
  const int32_t vocab = get<int32_t>(p + 4);
  const uint32_t order = get<uint32_t>(p + 8);
  const uint64_t n_ctx = get<uint64_t>(p + 16), n_ent = get<uint64_t>(p + 24);
  // Sizes are checked against the file before anything is allocated from them.
  if (n_ctx == 0 || n_ctx > buf.size() / 12 || n_ent > buf.size() / 8 ||
      buf.size() != kHeaderBytes + 12 * n_ctx + 8 * n_ent + 8)
    throw corrupt("size " + std::to_string(buf.size()) + " bytes disagrees with its header (" + std::to_string(n_ctx) +
                  " contexts, " + std::to_string(n_ent) + " n-grams): truncated or corrupt");
  if (get<uint64_t>(buf.data() + buf.size() - 8) != fnv1a(buf.data(), buf.size() - 8))
    throw corrupt("checksum mismatch: the file is corrupt");
  if (vocab < 1 || vocab == std::numeric_limits<int32_t>::max() || order < 1 || order > uint32_t(kMaxOrder))
    throw corrupt("invalid vocab_size " + std::to_string(vocab) + " or order " + std::to_string(order));

  NGramLM m(vocab, int(order));
  const uint8_t* cp = buf.data() + kHeaderBytes;
  const uint8_t* ep = cp + 12 * n_ctx;
  m.ctx_parent_.resize(n_ctx);
  m.ctx_token_.resize(n_ctx);
  m.ctx_len_.assign(n_ctx, 0);
  m.ctx_begin_.assign(n_ctx + 1, 0);
  m.ctx_index_.reserve(n_ctx);
  const uint32_t bos = uint32_t(vocab);
  for (uint64_t c = 0; c < n_ctx; ++c) {
    const uint32_t par = get<uint32_t>(cp + 12 * c), tok = get<uint32_t>(cp + 12 * c + 4);
    m.ctx_begin_[c + 1] = m.ctx_begin_[c] + get<uint32_t>(cp + 12 * c + 8);
    m.ctx_parent_[c] = par;
    m.ctx_token_[c] = tok;
    if (c == 0) {
      if (par != kNone || tok != kNone) throw corrupt("context 0 is not the empty history");
      continue;
    }
    // Parents come first; a history cannot reach past BOS nor exceed order-1 tokens.
    if (par >= c || tok > bos || (par != 0 && m.ctx_token_[par] == bos) || m.ctx_len_[par] + 1u >= order)
      throw corrupt("invalid context " + std::to_string(c));
    m.ctx_len_[c] = uint8_t(m.ctx_len_[par] + 1);
    bool inserted = false;
    m.ctx_index_.find_or_insert(PackedKeyMap::pack(par, tok), uint32_t(c), inserted);
    if (!inserted) throw corrupt("duplicate context " + std::to_string(c));
  }
  if (m.ctx_begin_[n_ctx] != n_ent) throw corrupt("context entry counts do not add up to the n-gram count");
  m.ent_token_.resize(n_ent);
  m.ent_count_.resize(n_ent);
  for (uint64_t c = 0; c < n_ctx; ++c)
    for (uint64_t e = m.ctx_begin_[c]; e < m.ctx_begin_[c + 1]; ++e) {
      const int32_t tok = get<int32_t>(ep + 8 * e);
      const uint32_t cnt = get<uint32_t>(ep + 8 * e + 4);
      if (tok < 0 || tok >= vocab || cnt == 0 || (e > m.ctx_begin_[c] && tok <= m.ent_token_[e - 1]))
        throw corrupt("invalid n-gram entry " + std::to_string(e) + " of context " + std::to_string(c));
      m.ent_token_[e] = tok;
      m.ent_count_[e] = cnt;
    }
  m.finalize();
  return m;
}

}  // namespace pianograd
