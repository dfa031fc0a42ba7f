// Test inputs shared by the kernel tests: reproducible uniform values in [-1, 1).
#pragma once
#include <random>
#include <vector>

namespace pianograd::kernels::cpu::testing {

template <class T>
std::vector<T> random_vec(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> v(n);
  for (auto& e : v) e = static_cast<T>(u(rng));
  return v;
}

}  // namespace pianograd::kernels::cpu::testing
