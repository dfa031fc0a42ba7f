#include "kernels/cpu/kernel_registry.h"

#include <algorithm>
#include <mutex>

namespace pianograd::kernels::cpu {
namespace {
std::vector<std::string>& names() {
  static std::vector<std::string> v;
  return v;
}
std::mutex& lock() {
  static std::mutex m;
  return m;
}
}  // namespace

bool register_kernel(const char* name) {
  std::lock_guard<std::mutex> g(lock());
  auto& v = names();
  const auto it = std::lower_bound(v.begin(), v.end(), name);
  if (it == v.end() || *it != name) v.insert(it, name);
  return true;
}

const std::vector<std::string>& registered_kernels() { return names(); }

}  // namespace pianograd::kernels::cpu
