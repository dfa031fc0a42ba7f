// Compiled for the baseline ISA: only asks CPUID, never executes wider instructions.
#include "kernels/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <xsimd/xsimd.hpp>

namespace pianograd::kernels::cpu {
namespace {

Isa detect() {
  const auto arch = xsimd::available_architectures();
  if (arch.avx512f && arch.avx512bw && arch.avx512dq && arch.avx512cd) return Isa::avx512;
  if (arch.avx2 && arch.fma3_avx2) return Isa::avx2;
  if (arch.sse2) return Isa::sse2;
  return Isa::scalar;
}

Isa initial() {
  Isa best = detect();
  if (const char* env = std::getenv("PIANOGRAD_ISA")) {
    for (Isa i : {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512})
      if (std::strcmp(env, isa_name(i)) == 0 && static_cast<int>(i) <= static_cast<int>(best)) return i;
  }
  return best;
}

std::atomic<int>& current() {
  static std::atomic<int> isa{static_cast<int>(initial())};
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::sse2: return "sse2";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

Isa best_isa() {
  static const Isa best = detect();
  return best;
}
bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(best_isa()); }
Isa active_isa() { return static_cast<Isa>(current().load(std::memory_order_relaxed)); }

void set_isa(Isa isa) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("set_isa: ") + isa_name(isa) + " is not supported by this CPU");
  current().store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace pianograd::kernels::cpu
