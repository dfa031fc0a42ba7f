#include "autodiff/nn/sequential.h"

namespace pianograd::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}
Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) push_back(m);
}

Sequential& Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(layers_.size()), module);
  layers_.push_back(std::move(module));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    try {
      h = layers_[i]->forward(h);
    } catch (const ShapeError& e) {
      // Say which stage failed: the layer's own message does not know its place in the chain.
      throw ShapeError("Sequential[" + std::to_string(i) + "] (" + layers_[i]->type_name() + "): " + e.what());
    }
  }
  return h;
}

const std::shared_ptr<Module>& Sequential::operator[](size_t i) const {
  if (i >= layers_.size())
    throw IndexError("Sequential: index " + std::to_string(i) + " out of range for " + std::to_string(layers_.size()) + " layers");
  return layers_[i];
}

}  // namespace pianograd::nn
