#include "models/omr_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "autodiff/errors.h"

namespace pianograd {

int64_t edit_distance(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  // The row runs over the shorter sequence, so memory is O(min).
  const std::vector<int64_t>& outer = a.size() >= b.size() ? a : b;
  const std::vector<int64_t>& inner = a.size() >= b.size() ? b : a;
  const size_t m = inner.size();
  std::vector<int64_t> row(m + 1);
  for (size_t j = 0; j <= m; ++j) row[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= outer.size(); ++i) {
    int64_t diag = row[0];  // D[i-1][j-1]
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= m; ++j) {
      const int64_t up = row[j];  // D[i-1][j]
      const int64_t sub = diag + (outer[i - 1] == inner[j - 1] ? 0 : 1);
      row[j] = std::min({sub, up + 1, row[j - 1] + 1});
      diag = up;
    }
  }
  return row[m];
}

SerResult symbol_error_rate(const std::vector<std::vector<int64_t>>& preds,
                            const std::vector<std::vector<int64_t>>& refs) {
  if (preds.size() != refs.size())
    throw ValueError("symbol_error_rate: " + std::to_string(preds.size()) + " predictions for " +
                     std::to_string(refs.size()) + " references");
  SerResult r;
  for (size_t i = 0; i < refs.size(); ++i) {
    r.edits += edit_distance(preds[i], refs[i]);
    r.ref_tokens += static_cast<int64_t>(refs[i].size());
  }
  if (r.ref_tokens == 0)
    throw ValueError("symbol_error_rate: the " + std::to_string(refs.size()) +
                     " references hold no tokens; the rate is undefined");
  r.ser = static_cast<double>(r.edits) / static_cast<double>(r.ref_tokens);
  return r;
}

namespace {

// Slack on top of the tolerances so that a difference equal to the tolerance in decimal (1.001 - 1.0 vs
// 1e-3) is not lost to binary rounding; far below any musical duration.
constexpr double kSlack = 1e-9;

void check_notes(const std::vector<ScoreNote>& notes, const char* side) {
  for (size_t i = 0; i < notes.size(); ++i) {
    const ScoreNote& n = notes[i];
    if (!std::isfinite(n.onset_beats) || !std::isfinite(n.duration_beats) || n.duration_beats < 0.0)
      throw ValueError(std::string("omr_note_f1: ") + side + " note " + std::to_string(i) + " has onset " +
                       std::to_string(n.onset_beats) + " and duration " + std::to_string(n.duration_beats) +
                       " beats (expected finite values, duration >= 0)");
  }
}

void check_tol(double tol, const char* name) {
  if (!std::isfinite(tol) || tol < 0.0)
    throw ValueError(std::string("omr_note_f1: ") + name + " must be finite and >= 0, got " + std::to_string(tol));
}

// Maximum-cardinality bipartite matching (Hopcroft-Karp) of refs (left) to estimates (right). Any maximum
// matching has the same size, which is all P/R/F1 need, so unlike transcription_metrics.cpp this does not
// copy mir_eval's visiting order. The augmenting search keeps an explicit stack: a long chain of
// equal-pitch notes must not overflow the call stack of a Python worker thread.
int64_t max_matching(const std::vector<std::vector<int64_t>>& adj, size_t n_right) {
  constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
  const size_t n_left = adj.size();
  std::vector<int64_t> match_l(n_left, -1), match_r(n_right, -1), dist(n_left), queue;
  std::vector<size_t> next(n_left), stack;
  int64_t matched = 0;
  for (;;) {
    // BFS from the free left vertices layers the graph by alternating-path length.
    queue.clear();
    for (size_t u = 0; u < n_left; ++u) {
      dist[u] = match_l[u] < 0 ? 0 : kInf;
      if (match_l[u] < 0) queue.push_back(static_cast<int64_t>(u));
    }
    bool reachable_free = false;
    for (size_t qi = 0; qi < queue.size(); ++qi) {
      const auto u = static_cast<size_t>(queue[qi]);
      for (int64_t v : adj[u]) {
        const int64_t w = match_r[static_cast<size_t>(v)];
        if (w < 0) {
          reachable_free = true;
        } else if (dist[static_cast<size_t>(w)] == kInf) {
          dist[static_cast<size_t>(w)] = dist[u] + 1;
          queue.push_back(w);
        }
      }
    }
    if (!reachable_free) return matched;
    // DFS along the layers from each free left vertex; next[u] is u's first untried edge.
    std::fill(next.begin(), next.end(), 0);
    for (size_t root = 0; root < n_left; ++root) {
      if (match_l[root] >= 0) continue;
      stack.assign(1, root);
      while (!stack.empty()) {
        const size_t u = stack.back();
        if (next[u] == adj[u].size()) {  // dead end: drop u from this phase
          dist[u] = kInf;
          stack.pop_back();
          if (!stack.empty()) ++next[stack.back()];
          continue;
        }
        const int64_t v = adj[u][next[u]];
        const int64_t w = match_r[static_cast<size_t>(v)];
        if (w < 0) {  // augmenting path found: flip every edge on the stack
          for (size_t x : stack) {
            const int64_t vx = adj[x][next[x]];
            match_l[x] = vx;
            match_r[static_cast<size_t>(vx)] = static_cast<int64_t>(x);
          }
          ++matched;
          break;
        }
        if (dist[static_cast<size_t>(w)] == dist[u] + 1) {
          stack.push_back(static_cast<size_t>(w));
        } else {
          ++next[u];
        }
      }
    }
  }
}

double f_measure(double p, double r) { return (p == 0.0 && r == 0.0) ? 0.0 : 2.0 * p * r / (p + r); }

}  // namespace

NoteScores omr_note_f1(const std::vector<ScoreNote>& ref, const std::vector<ScoreNote>& est, bool with_duration,
                       double onset_tol_beats, double duration_tol_beats, bool same_staff) {
  check_notes(ref, "reference");
  check_notes(est, "estimated");
  check_tol(onset_tol_beats, "onset_tol_beats");
  if (with_duration) check_tol(duration_tol_beats, "duration_tol_beats");
  NoteScores s;
  s.n_ref = static_cast<int64_t>(ref.size());
  s.n_est = static_cast<int64_t>(est.size());
  if (ref.empty() || est.empty()) return s;

  // Candidates by (pitch, onset): estimates sorted that way, each reference scans its onset window.
  std::vector<int64_t> order(est.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  auto key = [&](int64_t i) { return std::make_pair(est[static_cast<size_t>(i)].pitch, est[static_cast<size_t>(i)].onset_beats); };
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return key(x) < key(y); });
  const double onset_tol = onset_tol_beats + kSlack, dur_tol = duration_tol_beats + kSlack;
  std::vector<std::vector<int64_t>> adj(ref.size());
  for (size_t r = 0; r < ref.size(); ++r) {
    const ScoreNote& rn = ref[r];
    auto it = std::lower_bound(order.begin(), order.end(), std::make_pair(rn.pitch, rn.onset_beats - onset_tol),
                               [&](int64_t i, const std::pair<int, double>& k) { return key(i) < k; });
    for (; it != order.end(); ++it) {
      const ScoreNote& en = est[static_cast<size_t>(*it)];
      if (en.pitch != rn.pitch || en.onset_beats > rn.onset_beats + onset_tol) break;
      if (std::fabs(en.onset_beats - rn.onset_beats) > onset_tol) continue;
      if (with_duration && std::fabs(en.duration_beats - rn.duration_beats) > dur_tol) continue;
      if (same_staff && en.staff != rn.staff) continue;
      adj[r].push_back(*it);
    }
  }
  s.matched = max_matching(adj, est.size());
  s.precision = static_cast<double>(s.matched) / static_cast<double>(s.n_est);
  s.recall = static_cast<double>(s.matched) / static_cast<double>(s.n_ref);
  s.f1 = f_measure(s.precision, s.recall);
  return s;
}

}  // namespace pianograd
