// Internal to the roll renderer (synth/roll_plan.h, strike_life_bound): when all of one strike's modes are
// provably below the truncation threshold, solved block by block from a lower bound of the damping.
//
// Mode q of a strike is below half the threshold at sample n when (event_renderer.cpp's bound)
//   sigma_q t + g_q G >= need_q,   t = n - start,  G = sum_{i in (start, n]} d(i),  need_q = log(|amp_q| / thr) + log 2.
// With a_q = sigma_q / need_q, b_q = g_q / need_q (all >= 0) every mode holds iff min_q (a_q t + b_q G) >= 1.
// For (t, G) >= 0 that minimum is attained on the lower-left convex hull of the points (a_q, b_q) (a point
// above the chain of its neighbours is a convex combination of them plus a non-negative offset), so only
// the hull's few vertices are evaluated per block instead of every mode: the cost per block is O(hull),
// the set-up O(modes log modes) per strike.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace pianograd::detail {

class LifeCondition {
 public:
  explicit LifeCondition(size_t modes = 0) { pts_.reserve(modes); }
  // A mode with need > 0, sigma >= 0 and dgain >= 0 (the caller proves nothing for other signs).
  void add(double sigma, double dgain, double need) { pts_.push_back({sigma / need, dgain / need}); }
  bool empty() const { return pts_.empty(); }
  // Builds the lower-left hull; call once after the last add.
  void finish() {
    std::sort(pts_.begin(), pts_.end(), [](const P& x, const P& y) { return x.a < y.a || (x.a == y.a && x.b < y.b); });
    hull_.clear();
    double bmin = INFINITY;
    for (const P& p : pts_) {
      if (!(p.b < bmin)) continue;  // dominated: another mode has a <= and b <= (the staircase)
      bmin = p.b;
      while (hull_.size() >= 2) {  // keep counter-clockwise turns only (the lower chain)
        const P& o = hull_[hull_.size() - 2];
        const P& m = hull_.back();
        if ((m.a - o.a) * (p.b - o.b) - (m.b - o.b) * (p.a - o.a) > 0) break;
        hull_.pop_back();
      }
      hull_.push_back(p);
    }
  }
  size_t hull_size() const { return hull_.size(); }

  // A block of samples in which t grows by 1 and G by d per sample, from (t0, G0) at the sample before
  // it: the smallest x in [1, xmax] with every mode's condition at (t0 + x, G0 + d x), or -1. x is taken
  // a hair (1e-12 relative + 1e-9 samples) past the exact crossing, so rounding in the division cannot
  // land it a sample early.
  long first(double t0, double G0, double d, long xmax) const {
    double xs = 0;
    for (const P& p : hull_) {
      const double rest = 1.0 - p.a * t0 - p.b * G0, rate = p.a + p.b * d;
      if (rest <= 0) continue;
      if (!(rate > 0)) return -1;
      xs = std::max(xs, rest / rate);
    }
    const double x = std::max(1.0, std::ceil(xs * (1 + 1e-12) + 1e-9));
    return x <= static_cast<double>(xmax) ? static_cast<long>(x) : -1;
  }

 private:
  struct P {
    double a, b;
  };
  std::vector<P> pts_, hull_;
};

}  // namespace pianograd::detail
