// The benchmark executable's main: Google Benchmark's, plus --isa to choose the CPU kernels' ISA.
//
//   pianograd_bench [--isa=NAME[,NAME...]|all] [--benchmark_* flags]
//
// Each ISA in turn becomes the process's active ISA (as PIANOGRAD_ISA would make it) and the selected
// benchmarks run under it, one child process per ISA (libbenchmark 1.7.1 crashes on a second
// RunSpecifiedBenchmarks in one process); a line "pianograd_bench: ISA <name>" on stderr heads each pass, the
// JSON context carries "isa", and the dispatched benchmarks name the ISA in their labels. Without --isa: the active
// ISA (PIANOGRAD_ISA, else the CPU's best). Benchmarks named for an ISA (BM_reduce_sum/avx2 ...) and
// scalar-reference variants keep their own. An ISA this CPU lacks is an error, not a silent fallback.
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

#include "kernels/cpu/isa.h"

namespace {
namespace kc = pianograd::kernels::cpu;

bool parse_isas(const std::string& spec, std::vector<kc::Isa>& out) {
  if (spec == "all") {
    out = kc::supported_isas();
    return true;
  }
  std::stringstream ss(spec);
  for (std::string name; std::getline(ss, name, ',');) {
    bool found = false;
    for (kc::Isa i : {kc::Isa::scalar, kc::Isa::sse2, kc::Isa::avx2, kc::Isa::avx512})
      if (name == kc::isa_name(i)) {
        if (!kc::isa_supported(i)) {
          std::fprintf(stderr, "pianograd_bench: this CPU does not support %s (it supports up to %s)\n", name.c_str(),
                       kc::isa_name(kc::best_isa()));
          return false;
        }
        out.push_back(i);
        found = true;
      }
    if (!found) {
      std::fprintf(stderr, "pianograd_bench: unknown ISA '%s' (scalar, sse2, avx2, avx512, all)\n", name.c_str());
      return false;
    }
  }
  return !out.empty();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<kc::Isa> isas;
  bool json_out = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--isa=", 6) == 0) {
      if (!parse_isas(argv[i] + 6, isas)) return 2;
      continue;
    }
    if (std::strncmp(argv[i], "--benchmark_out=", 16) == 0) json_out = true;
    argv[kept++] = argv[i];
  }
  argc = kept;
  if (isas.empty()) isas.push_back(kc::active_isa());
  if (isas.size() > 1) {
    if (json_out) {
      std::fprintf(stderr, "pianograd_bench: --benchmark_out takes one ISA per run (one file per ISA)\n");
      return 2;
    }
    int status = 0;
    for (kc::Isa isa : isas) {  // the same command, one ISA per child
      std::string flag = std::string("--isa=") + kc::isa_name(isa);
      std::vector<char*> args{argv[0], flag.data()};
      for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
      args.push_back(nullptr);
      pid_t pid = 0;
      if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, args.data(), environ) != 0) return 2;
      int st = 0;
      waitpid(pid, &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) status = 1;
    }
    return status;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  kc::set_isa(isas[0]);
  benchmark::AddCustomContext("isa", kc::isa_name(isas[0]));
  benchmark::AddCustomContext("isa_best", kc::isa_name(kc::best_isa()));
  std::fprintf(stderr, "pianograd_bench: ISA %s\n", kc::isa_name(isas[0]));  // stdout may be JSON
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
