#include "autodiff/optim/schedule.h"

#include <cmath>
#include <numbers>
#include <string>

#include "autodiff/errors.h"
#include "autodiff/optim/optimizer.h"

namespace pianograd::optim {

void LRSchedule::apply(Optimizer& opt) const { opt.set_lr(lr_at(opt.step_count())); }

ConstantLR::ConstantLR(double lr) : lr_(lr) {
  if (!(lr >= 0.0)) throw ValueError("ConstantLR: lr must be >= 0, got " + std::to_string(lr));
}

WarmupCosineLR::WarmupCosineLR(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr)
    : base_(base_lr), min_(min_lr), warmup_(warmup_steps), total_(total_steps) {
  if (!(base_lr >= 0.0) || !(min_lr >= 0.0) || min_lr > base_lr)
    throw ValueError("WarmupCosineLR: need 0 <= min_lr <= base_lr, got base_lr " + std::to_string(base_lr) +
                     ", min_lr " + std::to_string(min_lr));
  if (warmup_steps < 0 || total_steps < warmup_steps)
    throw ValueError("WarmupCosineLR: need 0 <= warmup_steps <= total_steps, got " + std::to_string(warmup_steps) +
                     " and " + std::to_string(total_steps));
}

double WarmupCosineLR::lr_at(int64_t step) const {
  if (step < 0) throw ValueError("WarmupCosineLR: negative step " + std::to_string(step));
  if (step < warmup_) return base_ * static_cast<double>(step) / static_cast<double>(warmup_);
  if (step >= total_) return min_;
  const double progress = static_cast<double>(step - warmup_) / static_cast<double>(total_ - warmup_);
  return min_ + (base_ - min_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace pianograd::optim
