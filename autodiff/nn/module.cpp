#include "autodiff/nn/module.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "autodiff/checkpoint.h"
#include "autodiff/device.h"
#include "autodiff/tape.h"

namespace pianograd::nn {

Tensor Module::forward(const Tensor&) {
  throw ValueError(type_name() + ": forward(Tensor) is not defined for this module");
}

void Module::check_new_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(type_name() + ": " + what + " name '" + name + "' must be non-empty and contain no '.'");
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list)
      if (n == name) return true;
    return false;
  };
  if (taken(params_) || taken(buffers_) || taken(children_))
    throw ValueError(type_name() + ": name '" + name + "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name, "parameter");
  if (!value.defined()) throw ValueError(type_name() + ": parameter '" + name + "' is undefined");
  if (!is_floating(value.dtype()))
    throw DTypeError(type_name() + ": parameter '" + name + "' must be floating, got " + dtype_name(value.dtype()));
  if (!value.is_leaf())
    throw ValueError(type_name() + ": parameter '" + name + "' must be a leaf tensor (use detach())");
  value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name, "buffer");
  if (!value.defined()) throw ValueError(type_name() + ": buffer '" + name + "' is undefined");
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "module");
  if (!module) throw ValueError(type_name() + ": module '" + name + "' is null");
  if (module.get() == this) throw ValueError(type_name() + ": a module cannot contain itself");
  children_.emplace_back(name, std::move(module));
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  throw IndexError(type_name() + ": no child module named '" + name + "'");
}

void Module::collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers) const {
  if (params)
    for (const auto& [n, t] : params_) params->emplace_back(prefix + n, t);
  if (buffers)
    for (const auto& [n, t] : buffers_) buffers->emplace_back(prefix + n, t);
  for (const auto& [n, m] : children_) m->collect(prefix + n + ".", params, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", &out, nullptr);
  // A module reachable along two paths (weight tying) must not be stepped twice by an optimizer.
  NamedTensors unique;
  for (auto& p : out) {
    bool seen = false;
    for (const auto& q : unique) seen = seen || q.second.is_same(p.second);
    if (!seen) unique.push_back(std::move(p));
  }
  return unique;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", nullptr, &out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.zero_grad();
}

StateDict Module::state_dict() const {
  StateDict out;
  NamedTensors params, buffers;
  collect("", &params, &buffers);
  for (const auto& [n, t] : params) out.emplace(n, t.detach());
  for (const auto& [n, t] : buffers) out.emplace(n, t.detach());
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  NamedTensors live;
  collect("", &live, &live);
  std::vector<std::string> missing, unexpected;
  for (const auto& [n, t] : live)
    if (!state.count(n)) missing.push_back(n);
  for (const auto& [n, t] : state) {
    bool known = false;
    for (const auto& [ln, lt] : live) known = known || ln == n;
    if (!known) unexpected.push_back(n);
  }
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::string msg = type_name() + ": load_state_dict:";
    auto list = [&](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      msg += std::string(" ") + what + " keys:";
      for (size_t i = 0; i < keys.size(); ++i) msg += (i ? ", '" : " '") + keys[i] + "'";
      msg += ";";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    throw ValueError(msg);
  }
  // Check everything before changing anything, so a failed load leaves the module untouched.
  for (const auto& [n, t] : live) {
    auto it = state.find(n);
    if (it == state.end()) continue;
    const Tensor& src = it->second;
    if (!src.defined()) throw ValueError(type_name() + ": load_state_dict: '" + n + "' is undefined");
    if (src.shape() != t.shape())
      throw ShapeError(type_name() + ": load_state_dict: shape mismatch for '" + n + "': expected " +
                       shape_str(t.shape()) + ", got " + shape_str(src.shape()));
    if (is_floating(src.dtype()) != is_floating(t.dtype()))
      throw DTypeError(type_name() + ": load_state_dict: dtype mismatch for '" + n + "': expected " +
                       dtype_name(t.dtype()) + ", got " + dtype_name(src.dtype()));
  }
  NoGrad guard;
  for (auto& [n, t] : live) {
    auto it = state.find(n);
    if (it == state.end()) continue;
    Tensor src = it->second.dtype() == t.dtype() ? it->second.to(kCPU) : it->second.to(kCPU).to(t.dtype());
    if (src.raw_data() != t.raw_data()) std::memcpy(t.raw_data(), src.raw_data(), t.nbytes());
  }
}

Module& Module::to(Device device) {
  require_device(device, (type_name() + ".to").c_str());  // before anything moves
  NamedTensors live;
  collect("", &live, &live);
  // One copy per distinct TensorImpl (a tied parameter appears under two names but moves once);
  // all copies first, then the swaps, so a failure part-way leaves every handle as it was.
  std::vector<TensorImpl*> impls;
  std::vector<std::shared_ptr<Storage>> data, grads;
  {
    NoGrad guard;
    for (const auto& [n, t] : live) {
      TensorImpl* impl = t.impl();
      if (t.device() == device || std::find(impls.begin(), impls.end(), impl) != impls.end()) continue;
      impls.push_back(impl);
      data.push_back(t.detach().to(device).impl()->storage);
      grads.push_back(impl->grad ? Tensor(impl->grad).detach().to(device).impl()->storage : nullptr);
    }
  }
  for (size_t i = 0; i < impls.size(); ++i) {
    // The copy is fresh and contiguous at offset 0 (to() never returns a view when devices differ).
    impls[i]->storage = data[i];
    impls[i]->offset = 0;
    if (impls[i]->grad) {
      impls[i]->grad->storage = grads[i];
      impls[i]->grad->offset = 0;
    }
  }
  return *this;
}

Device Module::device() const {
  NamedTensors live;
  collect("", &live, &live);
  return live.empty() ? kCPU : live.front().second.device();
}

void Module::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  save_safetensors(path, state_dict(), metadata);
}

void Module::load(const std::string& path, bool strict) { load_state_dict(load_safetensors(path).tensors, strict); }

std::string Module::repr() const {
  std::ostringstream os;
  os << type_name() << " (" << num_parameters() << " parameters)\n";
  for (const auto& [n, t] : named_parameters()) os << "  " << n << " " << shape_str(t.shape()) << " " << dtype_name(t.dtype()) << "\n";
  return os.str();
}

}  // namespace pianograd::nn
