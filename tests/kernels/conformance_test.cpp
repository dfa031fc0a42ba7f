// The kernel conformance suite (kernels/cpu/conformance.h), table-driven: one test per case, each
// sweeping every ISA this CPU supports x float and double x the tail sizes 1 ... 49 and the case's large
// sizes, against the scalar references. Plus the coverage rules: every registered kernel has a case,
// every case names registered kernels, and every dispatcher file registers what it dispatches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/conformance.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_registry.h"

namespace pianograd::kernels::cpu::conformance {
namespace {

const Isa kIsas[] = {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512};

std::vector<std::string> split_kernels(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string k; std::getline(ss, k, '+');) out.push_back(k);
  return out;
}

class Conformance : public ::testing::TestWithParam<size_t> {};

TEST_P(Conformance, MatchesScalarReferenceOnEveryIsa) {
  const Case& c = cases()[GetParam()];
  std::vector<long> sizes = tail_sizes();
  sizes.insert(sizes.end(), c.large.begin(), c.large.end());
  long checks = 0;
  for (Isa isa : kIsas) {
    if (!isa_supported(isa)) continue;
    IsaScope scope(isa);
    for (const auto& [prec, run] : {std::pair<const char*, const conformance::Run*>{"f32", &c.f32}, {"f64", &c.f64}}) {
      if (!*run) continue;
      for (long n : sizes) {
        const Outcome o = (*run)(n);
        ++checks;
        EXPECT_TRUE(o.ok()) << c.name() << " on " << isa_name(isa) << ", " << prec << ", size " << n << ": error "
                            << o.error << " eps > bound " << o.bound << " (" << o.detail << ")";
      }
    }
  }
  EXPECT_GE(checks, static_cast<long>(sizes.size()));  // the scalar ISA at least
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string s = cases()[info.param].name();
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Kernels, Conformance, ::testing::Range<size_t>(0, cases().size()), case_name);

TEST(ConformanceCoverage, EveryRegisteredKernelHasACase) {
  std::set<std::string> covered;
  for (const Case& c : cases())
    for (const auto& k : split_kernels(c.kernel)) covered.insert(k);
  std::vector<std::string> missing;
  for (const auto& k : registered_kernels())
    if (!covered.count(k)) missing.push_back(k);
  EXPECT_TRUE(missing.empty()) << "dispatched kernels without a conformance case: " << ::testing::PrintToString(missing);
  EXPECT_GE(registered_kernels().size(), 30u);
}

TEST(ConformanceCoverage, EveryCaseNamesRegisteredKernels) {
  const auto& reg = registered_kernels();
  for (const Case& c : cases())
    for (const auto& k : split_kernels(c.kernel))
      EXPECT_TRUE(std::binary_search(reg.begin(), reg.end(), k)) << c.name() << " names unregistered kernel " << k;
}

TEST(ConformanceCoverage, CaseNamesAreUnique) {
  std::set<std::string> seen;
  for (const Case& c : cases()) EXPECT_TRUE(seen.insert(c.name()).second) << "duplicate case " << c.name();
}

// A file of kernels/cpu that consults active_isa() dispatches by ISA: it must register its entry points,
// or a new dispatcher could add kernels no case covers and EveryRegisteredKernelHasACase would not know.
TEST(ConformanceCoverage, EveryDispatcherRegistersItsKernels) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(PIANOGRAD_SOURCE_DIR) / "kernels" / "cpu";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int dispatchers = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".cpp" || name == "isa.cpp" || name.rfind("conformance", 0) == 0) continue;
    std::ifstream in(e.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("active_isa()") == std::string::npos) continue;
    ++dispatchers;
    EXPECT_NE(text.find("PG_CPU_KERNEL("), std::string::npos)
        << name << " dispatches by active_isa() but registers no kernel (PG_CPU_KERNEL, kernels/cpu/kernel_registry.h)";
  }
  EXPECT_GE(dispatchers, 8);
}

// What `pianograd info --self-test` runs: the quick sizes on the dispatched ISA, all within bounds.
TEST(ConformanceCoverage, QuickRunOnTheDispatchedIsaPasses) {
  const Report r = run_all(active_isa(), true);
  EXPECT_TRUE(r.ok()) << summary(r);
  EXPECT_GT(r.checks, 200);
  EXPECT_EQ(r.isa, isa_name(active_isa()));
}

}  // namespace
}  // namespace pianograd::kernels::cpu::conformance
