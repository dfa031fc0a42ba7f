// Optimizer base: holds the parameters, steps them in place from their .grad, and owns per-parameter
// state (momentum buffers, moment estimates) that can be saved and restored with a checkpoint.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd::optim {

class Optimizer {
 public:
  // `params` must be non-empty, defined, floating leaf tensors (ValueError / DTypeError otherwise).
  Optimizer(std::vector<Tensor> params, double lr, const char* name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters without one are skipped, as in
  // PyTorch). Runs without recording.
  void step();
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t step_count() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }
  const std::string& name() const { return name_; }

  // Per-parameter state by "<param index>.<slot>" plus "step"; restored by load_state_dict, which
  // checks the slots' shapes against the parameters.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // Updates parameter i from gradient g (same shape and dtype, checked). `t` is the 1-based step.
  virtual void update(size_t i, Tensor& param, const Tensor& grad, int64_t t) = 0;
  // Names of the per-parameter state slots ("momentum_buffer", "exp_avg", ...).
  virtual std::vector<std::string> slot_names() const = 0;
  // Slot storage, allocated lazily as zeros like the parameter.
  Tensor& slot(size_t i, size_t s);
  bool has_slot(size_t i, size_t s) const;

  std::vector<Tensor> params_;
  double lr_;

 private:
  std::string name_;
  int64_t steps_ = 0;
  std::vector<std::vector<Tensor>> slots_;  // [param][slot]
};

}  // namespace pianograd::optim
