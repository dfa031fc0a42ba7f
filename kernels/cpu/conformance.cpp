#include "kernels/cpu/conformance.h"

#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "kernels/cpu/conformance_util.h"

namespace pianograd::kernels::cpu::conformance {

const std::vector<Case>& cases() {
  static const std::vector<Case> table = [] {
    std::vector<Case> t;
    detail::add_elementwise_cases(t);
    detail::add_training_cases(t);
    detail::add_reduce_cases(t);
    detail::add_linalg_cases(t);
    detail::add_conv_cases(t);
    detail::add_spectral_cases(t);
    detail::add_modal_cases(t);
    detail::add_attention_cases(t);
    return t;
  }();
  return table;
}

std::vector<long> tail_sizes() {
  std::vector<long> s;
  for (long n = 1; n <= 3 * 16 + 1; ++n) s.push_back(n);
  return s;
}

std::vector<long> quick_sizes() {
  std::vector<long> s;
  for (long n = 1; n <= 17; ++n) s.push_back(n);  // every tail of 4, 8 and 16 lanes
  for (long n : {23L, 31L, 32L, 33L, 47L, 48L, 49L}) s.push_back(n);  // the 2- and 3-batch unrolls' ends
  return s;
}

namespace {
// A kernel that throws fails its check with the message, instead of ending the sweep.
Outcome guarded_run(const Run& run, long size) {
  try {
    return run(size);
  } catch (const std::exception& e) {
    return detail::broken(std::string("threw: ") + e.what());
  }
}
}  // namespace

Report run_all(Isa isa, bool quick) {
  IsaScope scope(isa);  // throws std::invalid_argument when unsupported
  const auto t0 = std::chrono::steady_clock::now();
  Report r;
  r.isa = isa_name(isa);
  for (const Case& c : cases()) {
    std::vector<long> sizes = quick ? quick_sizes() : tail_sizes();
    if (!quick) sizes.insert(sizes.end(), c.large.begin(), c.large.end());
    for (const auto& [prec, run] : {std::pair<const char*, const Run*>{"f32", &c.f32}, {"f64", &c.f64}}) {
      if (!*run) continue;
      for (long n : sizes) {
        ++r.checks;
        Outcome o = guarded_run(*run, n);
        if (!o.ok()) r.failures.push_back({c.name(), r.isa, prec, n, std::move(o)});
      }
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string summary(const Report& r) {
  std::ostringstream s;
  s.precision(3);
  s << r.isa << ": " << r.checks << " checks, ";
  if (r.ok()) {
    s << "all within bounds (" << r.seconds << " s)";
    return s.str();
  }
  s << r.failures.size() << " FAILED (" << r.seconds << " s)";
  for (const Failure& f : r.failures)
    s << "\n  " << f.kernel_case << " " << f.precision << " size " << f.size << ": error " << f.outcome.error
      << " eps > bound " << f.outcome.bound << " (" << f.outcome.detail << ")";
  return s.str();
}

}  // namespace pianograd::kernels::cpu::conformance
