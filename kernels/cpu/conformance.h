// The kernel conformance suite: every CPU kernel behind the runtime ISA dispatcher (and the kernels
// built on them) run through its public entry point on a chosen ISA, at sizes that reach every tail of
// every lane width, in float and double, and compared with its scalar reference. One table serves
// two users: tests/kernels/conformance_test.cpp sweeps it over every ISA the host supports, and
// `pianograd info --self-test` / pg.self_test() run its quick sizes on the dispatched ISA, so a user
// on a new machine learns in a second whether the kernels are right there.
//
// Measures are in units of the type's epsilon, so one bound reads the same in float and double:
// "ulps" relative to max(|reference|, floor) element by element, or relative to the largest
// reference value of the output ("of scale", for sums whose rounding depends on the order).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"

namespace pianograd::kernels::cpu::conformance {

// One run of a kernel against its reference.
struct Outcome {
  double error = 0;    // the case's measure (in epsilons), the worst over the outputs
  double bound = 0;    // the largest error the case accepts
  std::string detail;  // where the worst error is, or what else broke (a write past the end, an index)
  bool ok() const { return error <= bound; }  // a NaN error fails
};

using Run = std::function<Outcome(long size)>;

struct Case {
  std::string kernel;        // the registered kernel(s) it runs, '+'-separated (kernels/cpu/kernel_registry.h)
  std::string variant;       // which form, e.g. "pow", "transA", "damped"; empty when there is one
  Run f32, f64;              // empty where the kernel has no such precision
  std::vector<long> large;   // sizes beyond the tail sweep: threading, cache blocking, long rows
  std::string name() const { return variant.empty() ? kernel : kernel + "/" + variant; }
};

// The table, built once (thread-safe).
const std::vector<Case>& cases();

// 1 ... 3 * 16 + 1: every tail of every lane width up to AVX-512's 16 floats, below and past the
// 2 and 3 batch unrolls of the kernels. What "size" means is the case's (elements, row length, modes).
std::vector<long> tail_sizes();
// The self-test's sizes (about 0.3 s per ISA): 1 ... 17 and the ends of the 2- and 3-batch unrolls.
std::vector<long> quick_sizes();

struct Failure {
  std::string kernel_case, isa, precision;
  long size = 0;
  Outcome outcome;
};

struct Report {
  std::string isa;
  long checks = 0;
  std::vector<Failure> failures;
  double seconds = 0;
  bool ok() const { return failures.empty(); }
};

// Every case on one ISA (std::invalid_argument when the CPU lacks it): the quick sizes, or the tail
// sweep plus each case's large sizes. Sets the process-wide ISA for its duration (kernels/cpu/isa.h):
// run it while no other thread computes.
Report run_all(Isa isa, bool quick);

// "avx512: 1234 checks, all within bounds (0.4 s)" or one line per failure.
std::string summary(const Report& r);

}  // namespace pianograd::kernels::cpu::conformance
