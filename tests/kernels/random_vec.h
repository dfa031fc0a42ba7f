// Test inputs shared by the kernel tests (CPU and CUDA): reproducible uniform values in [-1, 1), or in
// [lo, hi) from a 64-bit generator.
#pragma once
#include <cstdint>
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

template <class T>
std::vector<T> random_vec(long n, std::uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

}  // namespace pianograd::kernels::cpu::testing
