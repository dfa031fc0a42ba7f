// The lane-width logic of the SIMD kernel bodies at W = 4, 8 and 16 on any host: each
// tests/kernels/emulated_<family>_test.cpp instantiates its family's per-ISA entry points
// (PG_<FAMILY>_ISA_DEFINE) over the emulated batch of kernels/cpu/emulated_batch.h in namespaces emu4,
// emu8 and emu16, and runs the conformance checks (kernels/cpu/conformance_checks.h: the suite's own
// inputs, references and bounds) on them. So the 16-lane float layouts of AVX-512 (plans, packing,
// groups, tails, the horizontal sums) are exercised on a host without AVX-512, and the 4- and 8-lane
// ones without SSE or AVX.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/emulated_batch.h"

namespace pianograd::kernels::cpu::emulated_testing {

using conformance::Outcome;

// 1 ... 3W + 1 (every tail, two and three batches) and a length past the kernels' cache blocks.
inline std::vector<long> sizes(int lanes, std::vector<long> more = {1000}) {
  std::vector<long> s;
  for (long n = 1; n <= 3 * lanes + 1; ++n) s.push_back(n);
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

inline void expect_ok(const Outcome& o, int lanes, const char* type, const std::string& what, long size) {
  EXPECT_TRUE(o.ok()) << what << " at W = " << lanes << " (" << type << "), size " << size << ": error " << o.error
                      << " eps > bound " << o.bound << " (" << o.detail << ")";
}

template <class T>
const char* type_name() {
  return sizeof(T) == 4 ? "float" : "double";
}

}  // namespace pianograd::kernels::cpu::emulated_testing

// X(ns, W) for the three emulated widths.
#define PG_EMULATED_WIDTHS(X) X(emu4, 4) X(emu8, 8) X(emu16, 16)
