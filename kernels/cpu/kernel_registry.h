// The CPU kernels the conformance suite (kernels/cpu/conformance.h) must cover: every kernel that the
// runtime ISA dispatcher routes, and the others its checks name. A dispatcher file registers its entry
// points next to their definitions with PG_CPU_KERNEL(name); Conformance.EveryRegisteredKernelHasACase
// then fails for a kernel with no case (the idea of GradCheck.EveryRegisteredOpHasACase), and
// Conformance.EveryDispatcherRegistersItsKernels fails for a dispatcher file that registers nothing.
#pragma once
#include <string>
#include <vector>

namespace pianograd::kernels::cpu {

bool register_kernel(const char* name);             // idempotent; returns true
const std::vector<std::string>& registered_kernels();  // sorted, unique

}  // namespace pianograd::kernels::cpu

#define PG_CPU_KERNEL_CAT2(a, b) a##b
#define PG_CPU_KERNEL_CAT(a, b) PG_CPU_KERNEL_CAT2(a, b)
#define PG_CPU_KERNEL(name)                                                            \
  [[maybe_unused]] static const bool PG_CPU_KERNEL_CAT(pg_cpu_kernel_, __LINE__) = \
      ::pianograd::kernels::cpu::register_kernel(#name)
