// A chain of single-input modules, named "0", "1", ... in the parameter tree (torch.nn.Sequential).
#pragma once
#include <initializer_list>

#include "autodiff/nn/module.h"

namespace pianograd::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);
  // std::make_shared cannot forward a braced list: Sequential::make({a, b, c}) does.
  static std::shared_ptr<Sequential> make(std::initializer_list<std::shared_ptr<Module>> modules) {
    return std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>(modules));
  }

  Sequential& push_back(std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }

  size_t size() const { return layers_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace pianograd::nn
