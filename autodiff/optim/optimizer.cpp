#include "autodiff/optim/optimizer.h"

#include <cmath>
#include <cstring>

#include "autodiff/tape.h"

namespace pianograd::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr, const char* name)
    : params_(std::move(params)), lr_(lr), name_(name) {
  if (params_.empty()) throw ValueError(name_ + ": got an empty parameter list");
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined()) throw ValueError(name_ + ": parameter " + std::to_string(i) + " is undefined");
    if (!is_floating(p.dtype()))
      throw DTypeError(name_ + ": parameter " + std::to_string(i) + " must be floating, got " + dtype_name(p.dtype()));
    if (!p.is_leaf()) throw ValueError(name_ + ": parameter " + std::to_string(i) + " is not a leaf tensor");
  }
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) throw ValueError(name_ + ": learning rate must be finite and >= 0, got " + std::to_string(lr));
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

Tensor& Optimizer::slot(size_t i, size_t s) {
  if (slots_.empty()) slots_.assign(params_.size(), std::vector<Tensor>(slot_names().size()));
  Tensor& t = slots_[i][s];
  if (!t.defined()) t = zeros_like(params_[i]);  // on the parameter's device
  // The parameter was moved (nn::Module::to) after this state was made: the state follows it.
  else if (!(t.device() == params_[i].device())) [[unlikely]] t = t.detach().to(params_[i].device());
  return t;
}

bool Optimizer::has_slot(size_t i, size_t s) const { return !slots_.empty() && slots_[i][s].defined(); }

void Optimizer::step() {
  // Validate every gradient first, so a bad one does not leave the model half-updated.
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    if (g.shape() != params_[i].shape())
      throw ShapeError(name_ + ": gradient of parameter " + std::to_string(i) + " has shape " + shape_str(g.shape()) +
                       ", parameter has " + shape_str(params_[i].shape()));
    if (g.dtype() != params_[i].dtype())
      throw DTypeError(name_ + ": gradient of parameter " + std::to_string(i) + " is " + dtype_name(g.dtype()) +
                       ", parameter is " + dtype_name(params_[i].dtype()));
  }
  NoGrad guard;
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    if (g.defined()) {
      update(i, params_[i], g, steps_);
      params_[i].note_inplace_write();
    }
  }
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  out.emplace("step", full({}, static_cast<double>(steps_), DType::i64));
  const auto names = slot_names();
  for (size_t i = 0; i < params_.size(); ++i)
    for (size_t s = 0; s < names.size(); ++s)
      if (has_slot(i, s)) out.emplace(std::to_string(i) + "." + names[s], slots_[i][s].detach());
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const auto names = slot_names();
  auto it = state.find("step");
  if (it == state.end() || !it->second.defined() || it->second.numel() != 1)
    throw ValueError(name_ + ": load_state_dict: missing scalar 'step'");
  for (const auto& [key, t] : state) {
    if (key == "step") continue;
    const size_t dot = key.find('.');
    bool ok = dot != std::string::npos && dot > 0;
    size_t i = 0, s = names.size();
    if (ok) {
      try {
        i = std::stoul(key.substr(0, dot));
      } catch (const std::exception&) {
        ok = false;
      }
      for (size_t k = 0; k < names.size(); ++k)
        if (ok && key.substr(dot + 1) == names[k]) s = k;
      ok = ok && i < params_.size() && s < names.size();
    }
    if (!ok) throw ValueError(name_ + ": load_state_dict: unexpected key '" + key + "'");
    if (!t.defined() || t.shape() != params_[i].shape())
      throw ShapeError(name_ + ": load_state_dict: '" + key + "' has shape " +
                       (t.defined() ? shape_str(t.shape()) : "undefined") + ", parameter has " +
                       shape_str(params_[i].shape()));
  }
  slots_.assign(params_.size(), std::vector<Tensor>(names.size()));
  for (const auto& [key, t] : state) {
    if (key == "step") continue;
    const size_t dot = key.find('.');
    const size_t i = std::stoul(key.substr(0, dot));
    for (size_t s = 0; s < names.size(); ++s)
      if (key.substr(dot + 1) == names[s]) {
        Tensor copy = t.dtype() == params_[i].dtype() ? t.to(kCPU).clone().detach() : t.to(kCPU).to(params_[i].dtype()).detach();
        slots_[i][s] = copy;
      }
  }
  steps_ = static_cast<int64_t>(it->second.item());
}

}  // namespace pianograd::optim
