// Module: a named tree of parameters, buffers and child modules (the shape of torch.nn.Module).
//
// A parameter is a Tensor handle registered under a name; the layer keeps the same handle as a
// member, so both see one TensorImpl (same data, same .grad). load_state_dict copies values INTO the
// existing storage rather than swapping handles, so optimizers built earlier keep pointing at the
// live parameters.
//
// Python (pybind11) subclasses Module through a trampoline: the destructor and the single-input
// forward are virtual; multi-input layers (attention, GRU) add their own non-virtual overloads.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/tensor.h"

namespace pianograd::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using StateDict = std::map<std::string, Tensor>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;  // parameters are shared handles: an implicit copy would alias them
  Module& operator=(const Module&) = delete;

  // The single-input forward; modules that do not take one input throw ValueError.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // The class name used in error messages and repr ("Linear", "Sequential", ...).
  virtual std::string type_name() const { return "Module"; }

  // Registration. Names are unique per module and may not contain '.'; the returned handle aliases
  // the stored one (keep it as the layer's member; reassigning the member later would detach it
  // from the tree — copy values in instead). Parameters must be floating; they are made to
  // require gradients.
  Tensor register_parameter(const std::string& name, Tensor value);
  // Buffers are saved in the state dict but are not trained (running statistics, fixed tables).
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // Depth-first, in registration order, with dotted names ("encoder.0.weight").
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  std::shared_ptr<Module> child(const std::string& name) const;  // IndexError when absent
  int64_t num_parameters() const;

  // Mode flags propagate to every descendant (dropout and friends read is_training()).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();

  // Parameters and buffers by dotted name. The returned tensors alias the live ones (detached).
  StateDict state_dict() const;
  // Copies values into the live tensors. strict: every key must match, no extra keys; shapes and
  // dtype-kind (floating vs integer) must agree in every case (values are cast to the live dtype).
  // Throws ValueError listing the missing / unexpected keys, ShapeError naming a mismatched key.
  void load_state_dict(const StateDict& state, bool strict = true);

  // Safetensors checkpoint of state_dict() (autodiff/checkpoint.h), written atomically.
  void save(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const;
  void load(const std::string& path, bool strict = true);

  // Moves every parameter and buffer (and any accumulated gradient) to `device` IN PLACE: each
  // handle keeps its identity and only its storage is replaced by a copy on the device, so the
  // layers' members, parameters() taken earlier and an optimizer built before or after all see the
  // moved tensors. An optimizer's state (Adam moments, SGD momentum) follows its parameter at the
  // next step (Optimizer::slot), so it need not be rebuilt. Every copy is made before any handle is
  // touched: on DeviceError (no CUDA build, no device, bad index) or an allocation failure the
  // module is unchanged. to(the current device) copies nothing. Returns *this.
  Module& to(Device device);
  Module& cuda(int index = 0) { return to(Device{DeviceType::CUDA, index}); }
  Module& cpu() { return to(kCPU); }
  // The device of the first parameter (or buffer); CPU for a module without tensors.
  Device device() const;

  // A multi-line summary: one row per parameter with its shape.
  std::string repr() const;

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  void check_new_name(const std::string& name, const char* what) const;
  void collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers) const;

  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace pianograd::nn
