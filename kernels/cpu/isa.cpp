// Compiled for the baseline ISA: only asks CPUID, never executes wider instructions.
#include "kernels/cpu/isa.h"

#include <atomic>
#include <cstdio>
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

const IsaRequest& request() {
  static const IsaRequest r = [] {
    IsaRequest q;
    const char* env = std::getenv("PIANOGRAD_ISA");
    if (!env || !*env) return q;
    q.name = env;
    q.honoured = false;
    bool known = false;
    for (Isa i : {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512})
      if (q.name == isa_name(i)) {
        known = true;
        q.honoured = static_cast<int>(i) <= static_cast<int>(detect());
      }
    if (!q.honoured)
      std::fprintf(stderr, "pianograd: PIANOGRAD_ISA=%s %s; the kernels use %s\n", env,
                   known ? "is not supported by this CPU" : "is none of scalar, sse2, avx2, avx512",
                   isa_name(detect()));
    return q;
  }();
  return r;
}

Isa initial() {
  const IsaRequest& q = request();
  if (!q.name.empty() && q.honoured)
    for (Isa i : {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512})
      if (q.name == isa_name(i)) return i;
  return detect();
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
std::vector<Isa> supported_isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512})
    if (isa_supported(i)) v.push_back(i);
  return v;
}
IsaRequest isa_request() { return request(); }
Isa active_isa() { return static_cast<Isa>(current().load(std::memory_order_relaxed)); }

void set_isa(Isa isa) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("set_isa: ") + isa_name(isa) + " is not supported by this CPU");
  current().store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace pianograd::kernels::cpu
