// Learning-rate schedules: a pure function of the step, applied to an optimizer before its step().
#pragma once
#include <cstdint>

namespace pianograd::optim {

class Optimizer;

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  // The learning rate for 0-based step `step` (the step about to be taken).
  virtual double lr_at(int64_t step) const = 0;
  // Sets opt's learning rate for its next step (opt.step_count() steps have been taken so far).
  void apply(Optimizer& opt) const;
};

class ConstantLR : public LRSchedule {
 public:
  explicit ConstantLR(double lr);
  double lr_at(int64_t) const override { return lr_; }

 private:
  double lr_;
};

// Linear warmup from 0 to base_lr over `warmup_steps`, then half a cosine from base_lr down to
// min_lr at `total_steps`, constant min_lr after (the schedule of Loshchilov & Hutter's SGDR without
// restarts, with the linear warmup of Goyal et al. 2017; same values as HuggingFace's
// get_cosine_schedule_with_warmup when min_lr = 0):
//   s < W:      base * s / W
//   W <= s < T: min + (base - min) * 0.5 * (1 + cos(pi * (s - W) / (T - W)))
//   s >= T:     min
class WarmupCosineLR : public LRSchedule {
 public:
  WarmupCosineLR(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0);
  double lr_at(int64_t step) const override;

 private:
  double base_, min_;
  int64_t warmup_, total_;
};

}  // namespace pianograd::optim
