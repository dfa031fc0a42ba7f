// Build and runtime facts for `pianograd info`: version, build options, SIMD ISA, threads, CUDA.
#include <omp.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "autodiff/op_registry.h"
#include "bind_common.h"
#include "kernels/cpu/conformance.h"
#include "kernels/cpu/isa.h"

namespace pgpy {
namespace pg = pianograd;
namespace isa = pianograd::kernels::cpu;

void bind_info(py::module_& m) {
  py::enum_<isa::Isa>(m, "Isa", "CPU instruction sets the kernels are compiled for.")
      .value("scalar", isa::Isa::scalar)
      .value("sse2", isa::Isa::sse2)
      .value("avx2", isa::Isa::avx2)
      .value("avx512", isa::Isa::avx512);
  m.def("active_isa", [] { return std::string(isa::isa_name(isa::active_isa())); },
        "Name of the SIMD instruction set the CPU kernels dispatch to now.");
  m.def("best_isa", [] { return std::string(isa::isa_name(isa::best_isa())); },
        "The best instruction set this CPU supports among those compiled in.");
  m.def("isa_supported", [](const std::string& name) {
    for (auto i : {isa::Isa::scalar, isa::Isa::sse2, isa::Isa::avx2, isa::Isa::avx512})
      if (name == isa::isa_name(i)) return isa::isa_supported(i);
    throw py::value_error("unknown ISA '" + name + "' (scalar, sse2, avx2, avx512)");
  }, py::arg("name"));
  m.def("set_isa", [](const std::string& name) {
    for (auto i : {isa::Isa::scalar, isa::Isa::sse2, isa::Isa::avx2, isa::Isa::avx512})
      if (name == isa::isa_name(i)) return isa::set_isa(i);
    throw py::value_error("unknown ISA '" + name + "' (scalar, sse2, avx2, avx512)");
  }, py::arg("name"), "Forces the kernels onto one ISA (tests, benchmarks); ValueError when unsupported.");
  m.def("supported_isas", [] {
    std::vector<std::string> v;
    for (auto i : isa::supported_isas()) v.emplace_back(isa::isa_name(i));
    return v;
  }, "Every instruction set this CPU supports among those compiled in, scalar first.");
  m.def("isa_request", [] {
    const isa::IsaRequest r = isa::isa_request();
    py::dict d;
    d["name"] = r.name;
    d["honoured"] = r.honoured;
    return d;
  }, "What PIANOGRAD_ISA asked for at start-up ('' when unset) and whether it was honoured.");
  m.def("self_test", [](const std::string& name, bool full) {
    isa::Isa which = isa::active_isa();
    if (!name.empty()) {
      bool found = false;
      for (auto i : {isa::Isa::scalar, isa::Isa::sse2, isa::Isa::avx2, isa::Isa::avx512})
        if (name == isa::isa_name(i)) which = i, found = true;
      if (!found) throw py::value_error("unknown ISA '" + name + "' (scalar, sse2, avx2, avx512)");
      if (!isa::isa_supported(which)) throw py::value_error("self_test: this CPU does not support " + name);
    }
    isa::conformance::Report r;
    {
      py::gil_scoped_release nogil;
      r = isa::conformance::run_all(which, !full);
    }
    py::list failures;
    for (const auto& f : r.failures) {
      py::dict d;
      d["case"] = f.kernel_case;
      d["precision"] = f.precision;
      d["size"] = f.size;
      d["error"] = f.outcome.error;
      d["bound"] = f.outcome.bound;
      d["detail"] = f.outcome.detail;
      failures.append(d);
    }
    py::dict d;
    d["isa"] = r.isa;
    d["checks"] = r.checks;
    d["failures"] = failures;
    d["seconds"] = r.seconds;
    d["ok"] = r.ok();
    d["summary"] = isa::conformance::summary(r);
    return d;
  }, py::arg("isa") = "", py::arg("full") = false,
     "Runs the kernel conformance suite on one ISA (default: the one in use) against the scalar references: "
     "the quick sizes (about 0.3 s), or with full=True every tail size and the large ones. Returns a dict "
     "(isa, checks, failures, seconds, ok, summary). Switches the process's ISA while it runs: call it while "
     "no other thread computes.");
  m.def("num_threads", [] { return omp_get_max_threads(); }, "OpenMP threads the kernels use.");
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("set_num_threads: expected n >= 1, got " + std::to_string(n));
    omp_set_num_threads(n);
  }, py::arg("n"));
  m.def("cuda_available", &pg::cuda_available, "True when built with CUDA and a device is present.");
  m.def("registered_ops", &pg::registered_ops, "Names of every differentiable op in the engine.");
  m.def("build_info", [] {
    py::dict d;
    d["version"] = PIANOGRAD_VERSION;
    d["build_type"] = PIANOGRAD_BUILD_TYPE;
    d["compiler"] = PIANOGRAD_CXX_COMPILER;
    d["cuda"] = static_cast<bool>(PIANOGRAD_WITH_CUDA);
    d["openmp"] = _OPENMP;
    d["pybind11"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." + std::to_string(PYBIND11_VERSION_MINOR) + "." +
                    std::to_string(PYBIND11_VERSION_PATCH);
    return d;
  }, "Options the extension was built with.");
}

}  // namespace pgpy
