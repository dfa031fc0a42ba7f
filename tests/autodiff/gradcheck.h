// The table-driven gradient check: each op file's test registers cases; one test runs them all in
// float64 against central differences, and another fails when a registered op has no case.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autodiff/op_registry.h"
#include "pianograd.h"

namespace pianograd::testing {

struct GradCase {
  std::string op;                  // the name the op registers with PG_REGISTER_OP
  std::vector<Shape> shapes;       // float64 inputs, all checked
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  double tol = 1e-6;               // on max |analytic - numeric| / max(1, max |numeric|)
  // Input values; default N(0,1). Use it for domains (log > 0) or to keep kinks away (relu, abs).
  std::function<Tensor(const Shape&, size_t input_index)> init = nullptr;
  std::string label = "";          // told apart in failure messages
  double step = 1e-6;              // central-difference step (relative to max(1, |x|))
};

std::vector<GradCase>& grad_cases();

struct AddGradCases {
  AddGradCases(std::initializer_list<GradCase> cases);
};

// Inputs helpers for common domains.
Tensor positive_input(const Shape& s, size_t);     // U[0.5, 2)
Tensor away_from_zero(const Shape& s, size_t);     // ±U[0.2, 1.5)
Tensor distinct_input(const Shape& s, size_t);     // a shuffled spaced grid: no ties for max/min/sort

// Runs one case; returns an empty string on success, or what went wrong.
std::string run_grad_case(const GradCase& c, uint64_t seed = 1);

}  // namespace pianograd::testing

#define PG_GRAD_CASES(...) \
  static const ::pianograd::testing::AddGradCases PG_CONCAT(pg_grad_cases_, __LINE__)({__VA_ARGS__})
