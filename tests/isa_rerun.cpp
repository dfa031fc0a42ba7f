// ctest runs the ISA-sensitive test binaries a second time per narrower ISA (tests/CMakeLists.txt:
// PIANOGRAD_ISA=<isa> with PIANOGRAD_TEST_ISA_RERUN=1). Such a run skips every test when the CPU lacks
// that ISA, or when it is the host's best: the default run, on the best ISA, has already covered it.
// Linked into every test binary; inert without PIANOGRAD_TEST_ISA_RERUN.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "kernels/cpu/isa.h"

namespace {
namespace kc = pianograd::kernels::cpu;

class IsaRerun : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* rerun = std::getenv("PIANOGRAD_TEST_ISA_RERUN");
    if (!rerun || std::string(rerun) != "1") return;
    const kc::IsaRequest r = kc::isa_request();
    if (r.name.empty()) GTEST_FAIL() << "PIANOGRAD_TEST_ISA_RERUN=1 without PIANOGRAD_ISA";
    // ctest's SKIP_REGULAR_EXPRESSION matches the marker "pianograd ISA re-run skipped" (and nothing
    // else: a test skipping for another reason must not hide the run's failures).
    if (!r.honoured) GTEST_SKIP() << "pianograd ISA re-run skipped: this CPU does not support " << r.name;
    if (kc::active_isa() == kc::best_isa())
      GTEST_SKIP() << "pianograd ISA re-run skipped: " << r.name << " is this CPU's best ISA, the default run covers it";
  }
};

[[maybe_unused]] ::testing::Environment* const kIsaRerun = ::testing::AddGlobalTestEnvironment(new IsaRerun);

}  // namespace
