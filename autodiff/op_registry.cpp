#include "autodiff/op_registry.h"

#include <algorithm>

namespace pianograd {
namespace {
std::vector<std::string>& registry() {
  static std::vector<std::string> ops;
  return ops;
}
}  // namespace

OpRegistrar::OpRegistrar(const char* name) {
  auto& ops = registry();
  if (std::find(ops.begin(), ops.end(), name) == ops.end()) ops.emplace_back(name);
}

const std::vector<std::string>& registered_ops() { return registry(); }

}  // namespace pianograd
