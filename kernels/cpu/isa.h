// Runtime ISA selection for the CPU kernels. Chosen once at start-up from CPUID (xsimd), overridable
// by PIANOGRAD_ISA=scalar|sse2|avx2|avx512 and by set_isa() for tests and benchmarks.
#pragma once
#include <string>
#include <vector>

namespace pianograd::kernels::cpu {

enum class Isa : int { scalar = 0, sse2 = 1, avx2 = 2, avx512 = 3 };

Isa active_isa();
Isa best_isa();                 // the best the CPU supports and we compiled
bool isa_supported(Isa isa);
void set_isa(Isa isa);          // throws std::invalid_argument when unsupported
const char* isa_name(Isa isa);
std::vector<Isa> supported_isas();  // scalar first, best last

// What PIANOGRAD_ISA asked for at start-up: name "" when unset; honoured false when the name is none of
// scalar|sse2|avx2|avx512 or names an ISA this CPU lacks (the kernels then run best_isa(), and a
// one-line warning went to stderr).
struct IsaRequest {
  std::string name;
  bool honoured = true;
};
IsaRequest isa_request();

// RAII override for a scope (tests compare every ISA against the scalar reference).
class IsaScope {
 public:
  explicit IsaScope(Isa isa) : prev_(active_isa()) { set_isa(isa); }
  ~IsaScope() { set_isa(prev_); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  Isa prev_;
};

// Below this many elements a kernel stays on one thread (OpenMP start-up costs more than it saves).
inline constexpr long kParallelGrain = 1L << 15;

}  // namespace pianograd::kernels::cpu
