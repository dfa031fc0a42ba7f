#include "models/transcription_metrics.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/errors.h"
#include "synth/pedal_roll.h"
#include "synth/piano_roll.h"

namespace pianograd {

namespace {

// mir_eval.transcription rounds every onset/offset distance with np.around(d, decimals=4) before comparing
// it with `<=`, so that a 50 ms shift stored as 0.05000000000000071 still counts as within 50 ms. np.around
// is rint(d * 10^4) / 10^4 with round-half-to-even; nearbyint in the default rounding mode is the same.
double round_distance(double d) { return std::nearbyint(d * 1e4) / 1e4; }

double f_measure(double p, double r) { return (p == 0.0 && r == 0.0) ? 0.0 : 2.0 * p * r / (p + r); }

// Maximum-cardinality bipartite matching by Hopcroft–Karp, a line-by-line port of mir_eval.util._bipartite_match
// (after D. Eppstein's PADS) including its visiting orders, so that among several maximum matchings we pick
// the same one mir_eval picks — the velocity rule below fits a regression over the matched pairs, so which
// pairs are matched changes the velocity metric. U = estimated notes (in `order`, mir_eval's dict order),
// V = reference notes; adj[u] lists refs ascending. Returns ref -> est (-1 unmatched).
class HopcroftKarp {
 public:
  HopcroftKarp(int64_t n_ref, const std::vector<int64_t>& order, const std::vector<std::vector<int64_t>>& adj)
      : order_(order), adj_(adj), match_(static_cast<size_t>(n_ref), -1) {}

  std::vector<int64_t> run() {
    const size_t n_ref = match_.size(), n_est = adj_.size();
    // A greedy start (mir_eval's "redundant, but faster than full search").
    for (int64_t u : order_)
      for (int64_t v : adj_[u])
        if (match_[v] < 0) {
          match_[v] = u;
          break;
        }
    std::vector<std::vector<int64_t>> new_layer(n_ref);
    std::vector<char> in_new_layer(n_ref);
    while (true) {
      // Layer the residual graph: pred_[u] is u's neighbour in the previous layer (kFree for the first
      // layer, the free estimates); preds_[v] lists v's neighbours in the previous layer.
      preds_.assign(n_ref, {});
      has_preds_.assign(n_ref, 0);
      pred_.assign(n_est, kFree);
      in_pred_.assign(n_est, 0);
      for (int64_t u : order_) in_pred_[u] = 1;
      for (size_t v = 0; v < n_ref; ++v)
        if (match_[v] >= 0) in_pred_[match_[v]] = 0;
      std::vector<int64_t> layer, unmatched;
      for (int64_t u : order_)
        if (in_pred_[u]) layer.push_back(u);
      while (!layer.empty() && unmatched.empty()) {
        std::vector<int64_t> new_order;  // new_layer's keys in insertion order
        for (int64_t u : layer)
          for (int64_t v : adj_[u])
            if (!has_preds_[v]) {
              if (!in_new_layer[v]) {
                in_new_layer[v] = 1;
                new_order.push_back(v);
              }
              new_layer[v].push_back(u);
            }
        layer.clear();
        for (int64_t v : new_order) {
          preds_[v] = std::move(new_layer[v]);
          new_layer[v].clear();
          in_new_layer[v] = 0;
          has_preds_[v] = 1;
          if (match_[v] >= 0) {
            layer.push_back(match_[v]);
            pred_[match_[v]] = v;
            in_pred_[match_[v]] = 1;
          } else {
            unmatched.push_back(v);
          }
        }
      }
      if (unmatched.empty()) return match_;  // no augmenting path left: the matching is maximum
      for (int64_t v : unmatched) augment(v);
    }
  }

 private:
  static constexpr int64_t kFree = -1;

  // Depth-first search back through the layers for an augmenting path ending at ref v (mir_eval's recurse;
  // its depth is bounded by the number of layers).
  bool augment(int64_t v) {
    if (!has_preds_[v]) return false;
    std::vector<int64_t> list = std::move(preds_[v]);
    has_preds_[v] = 0;
    for (int64_t u : list) {
      if (!in_pred_[u]) continue;
      const int64_t pu = pred_[u];
      in_pred_[u] = 0;
      if (pu == kFree || augment(pu)) {
        match_[v] = u;
        return true;
      }
    }
    return false;
  }

  const std::vector<int64_t>& order_;
  const std::vector<std::vector<int64_t>>& adj_;
  std::vector<int64_t> match_;
  std::vector<std::vector<int64_t>> preds_;
  std::vector<char> has_preds_;
  std::vector<int64_t> pred_;
  std::vector<char> in_pred_;
};

// mir_eval.transcription.match_notes: (ref, est) pairs sorted by ref index.
std::vector<std::pair<int64_t, int64_t>> match_notes(const std::vector<Note>& ref, const std::vector<Note>& est,
                                                     const NoteMetricOptions& o, bool with_offset) {
  const auto n = static_cast<int64_t>(ref.size()), m = static_cast<int64_t>(est.size());
  // The graph as mir_eval builds it from np.where over the (ref, est) hit matrix in row-major order: an
  // estimate enters the dict at its first hit, its list collects refs in ascending order.
  std::vector<std::vector<int64_t>> adj(static_cast<size_t>(m));
  std::vector<int64_t> order;
  for (int64_t i = 0; i < n; ++i) {
    const Note& r = ref[i];
    const double off_tol = std::max(o.offset_ratio * std::abs(r.offset - r.onset), o.offset_min_tolerance);
    for (int64_t j = 0; j < m; ++j) {
      const Note& e = est[j];
      if (e.key != r.key || !(round_distance(std::abs(r.onset - e.onset)) <= o.onset_tolerance)) continue;
      if (with_offset && !(round_distance(std::abs(r.offset - e.offset)) <= off_tol)) continue;
      if (adj[j].empty()) order.push_back(j);
      adj[j].push_back(i);
    }
  }
  const std::vector<int64_t> ref_to_est = HopcroftKarp(n, order, adj).run();
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t i = 0; i < n; ++i)
    if (ref_to_est[i] >= 0) pairs.emplace_back(i, ref_to_est[i]);
  return pairs;
}

// mir_eval.transcription_velocity.match_notes: keeps the matched pairs whose velocities agree after an affine
// fit of the estimate onto the reference — velocity scales differ between systems, relative dynamics must not.
std::vector<std::pair<int64_t, int64_t>> filter_velocity(const std::vector<Note>& ref, const std::vector<Note>& est,
                                                         std::vector<std::pair<int64_t, int64_t>> pairs,
                                                         double tolerance) {
  if (pairs.empty()) return pairs;
  int lo = ref[0].velocity, hi = ref[0].velocity;
  for (const Note& r : ref) lo = std::min(lo, r.velocity), hi = std::max(hi, r.velocity);
  const double range = std::max(1, hi - lo);
  const auto k = static_cast<Eigen::Index>(pairs.size());
  Eigen::MatrixXd a(k, 2);
  Eigen::VectorXd b(k);
  for (Eigen::Index p = 0; p < k; ++p) {
    a(p, 0) = est[pairs[p].second].velocity;
    a(p, 1) = 1.0;
    b(p) = (ref[pairs[p].first].velocity - lo) / range;
  }
  // np.linalg.lstsq(rcond=None): the minimum-norm least-squares solution by SVD, singular values below
  // eps * max(rows, cols) * the largest treated as zero (one pair, or equal estimated velocities, are
  // rank-deficient and must give numpy's answer, not a division by zero).
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
  svd.setThreshold(std::numeric_limits<double>::epsilon() * static_cast<double>(std::max<Eigen::Index>(k, 2)));
  const Eigen::Vector2d x = svd.solve(b);
  std::vector<std::pair<int64_t, int64_t>> kept;
  for (Eigen::Index p = 0; p < k; ++p)
    if (std::abs(x(0) * a(p, 0) + x(1) - b(p)) < tolerance) kept.push_back(pairs[p]);
  return kept;
}

// mir_eval.transcription.average_overlap_ratio.
double average_overlap(const std::vector<Note>& ref, const std::vector<Note>& est,
                       const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  if (pairs.empty()) return 0.0;
  double sum = 0.0;
  for (const auto& [i, j] : pairs) {
    const Note &r = ref[i], &e = est[j];
    sum += (std::min(r.offset, e.offset) - std::max(r.onset, e.onset)) /
           (std::max(r.offset, e.offset) - std::min(r.onset, e.onset));
  }
  return sum / static_cast<double>(pairs.size());
}

void check_options(const NoteMetricOptions& o) {
  auto check = [](double v, const char* name) {
    if (!std::isfinite(v) || v < 0.0)
      throw ValueError(std::string("note_metrics: ") + name + " must be finite and >= 0, got " + std::to_string(v));
  };
  check(o.onset_tolerance, "onset_tolerance");
  check(o.offset_ratio, "offset_ratio");
  check(o.offset_min_tolerance, "offset_min_tolerance");
  check(o.velocity_tolerance, "velocity_tolerance");
}

PRF note_prf(const std::vector<Note>& ref, const std::vector<Note>& est, const NoteMetricOptions& o,
             bool with_offset, bool with_velocity) {
  PRF out;
  out.n_ref = static_cast<int64_t>(ref.size());
  out.n_est = static_cast<int64_t>(est.size());
  out.overlap = 0.0;
  if (ref.empty() || est.empty()) return out;  // mir_eval: warn, return zeros
  auto pairs = match_notes(ref, est, o, with_offset);
  if (with_velocity) pairs = filter_velocity(ref, est, std::move(pairs), o.velocity_tolerance);
  out.n_matched = static_cast<int64_t>(pairs.size());
  out.precision = static_cast<double>(out.n_matched) / static_cast<double>(out.n_est);
  out.recall = static_cast<double>(out.n_matched) / static_cast<double>(out.n_ref);
  out.f1 = f_measure(out.precision, out.recall);
  out.overlap = average_overlap(ref, est, pairs);
  return out;
}

std::vector<float> frame_roll(const Performance& perf, double frame_rate, bool pedal_extend) {
  RollOptions ro;
  ro.pedal_extend = pedal_extend;
  return performance_to_rolls(perf, frame_rate, ro).frame.to_vector<float>();
}

}  // namespace

PRF note_metrics(const Performance& ref, const Performance& est, const NoteMetricOptions& opts, bool with_offset,
                 bool with_velocity) {
  check_options(opts);
  return note_prf(sounding_notes(ref, opts.pedal_extend), sounding_notes(est, opts.pedal_extend), opts, with_offset,
                  with_velocity);
}

PRF frame_metrics(const Performance& ref, const Performance& est, double frame_rate, bool pedal_extend) {
  if (!std::isfinite(frame_rate) || frame_rate <= 0.0)
    throw ValueError("frame_metrics: frame_rate must be finite and > 0, got " + std::to_string(frame_rate));
  const std::vector<float> r = frame_roll(ref, frame_rate, pedal_extend);
  const std::vector<float> e = frame_roll(est, frame_rate, pedal_extend);
  // Padding the shorter roll with silent frames adds no active cells, so counting each roll whole and the
  // true positives over the common frames is the same as comparing both at max(frames).
  PRF out;
  for (float v : r) out.n_ref += v > 0.5f;
  for (float v : e) out.n_est += v > 0.5f;
  const size_t common = std::min(r.size(), e.size());
  for (size_t c = 0; c < common; ++c) out.n_matched += (r[c] > 0.5f && e[c] > 0.5f);
  // mir_eval.multipitch.compute_accuracy: 0 (with a warning) when a side has no active frame at all.
  if (out.n_est > 0) out.precision = static_cast<double>(out.n_matched) / static_cast<double>(out.n_est);
  if (out.n_ref > 0) out.recall = static_cast<double>(out.n_matched) / static_cast<double>(out.n_ref);
  out.f1 = f_measure(out.precision, out.recall);
  return out;
}

TranscriptionMetrics transcription_metrics(const Performance& ref, const Performance& est, double frame_rate,
                                           const NoteMetricOptions& opts) {
  check_options(opts);
  TranscriptionMetrics m;
  m.frame = frame_metrics(ref, est, frame_rate, opts.pedal_extend);  // validates both and the frame rate
  const std::vector<Note> r = sounding_notes(ref, opts.pedal_extend), e = sounding_notes(est, opts.pedal_extend);
  m.note = note_prf(r, e, opts, false, false);
  m.note_offset = note_prf(r, e, opts, true, false);
  m.note_offset_velocity = note_prf(r, e, opts, true, true);
  m.pedal = pedal_metrics(ref, est, opts);
  m.pedal_onset = pedal_metrics(ref, est, opts, false);
  return m;
}

PRF pedal_metrics(const Performance& ref, const Performance& est, const NoteMetricOptions& opts, bool with_offset) {
  check_options(opts);
  // Each down segment is scored as a note of one pitch (Kong et al. 2021 score pedal events with mir_eval's
  // onset-offset matching this way), so onset and offset tolerances are exactly the notes'.
  auto as_notes = [](const Performance& p) {
    std::vector<Note> out;
    for (const auto& [a, b] : pedal_segments(p)) out.push_back({64, a, std::max(b, a + 1e-4), 64});
    return out;
  };
  return note_prf(as_notes(ref), as_notes(est), opts, with_offset, false);
}

}  // namespace pianograd
