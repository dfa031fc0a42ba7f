// pianograd.cuda: device queries, synchronisation, the caching allocator's statistics and streams
// (autodiff/device.h). Importable in every build; without CUDA, is_available() is False and anything
// that needs a device raises RuntimeError ("CUDA requested but this build has no CUDA" / "no CUDA
// device present").
#include <memory>

#include "autodiff/device.h"
#include "bind_common.h"

namespace pgpy {
namespace pg = pianograd;

namespace {
// A stream usable as a context manager: `with pg.cuda.Stream() as s: ...` makes it current.
struct PyStream {
  pg::cuda::Stream stream;
  std::unique_ptr<pg::cuda::StreamScope> scope;
};
}  // namespace

void bind_cuda(py::module_& m) {
  py::module_ c = m.def_submodule("cuda", "CUDA devices: availability, synchronisation, memory, streams.");
  c.def("is_available", &pg::cuda::is_available, "True when built with CUDA and a device is present.");
  c.def("is_built", &pg::cuda::is_built, "True when this build has the CUDA backend.");
  c.def("device_count", &pg::cuda::device_count, "Number of CUDA devices (0 without CUDA).");
  c.def("synchronize", [] {
    py::gil_scoped_release nogil;
    pg::cuda::synchronize();
  }, "Waits for all queued kernels; raises the first asynchronous CUDA error.");
  c.def("empty_cache", &pg::cuda::empty_cache, "Returns the caching allocator's free blocks to the driver.");
  c.def("memory_stats", [](int device) {
    const pg::cuda::MemoryStats s = pg::cuda::memory_stats(device);
    py::dict d;
    d["allocated_bytes"] = s.allocated;
    d["reserved_bytes"] = s.reserved;
    d["peak_allocated_bytes"] = s.peak_allocated;
    d["peak_reserved_bytes"] = s.peak_reserved;
    d["num_device_alloc"] = s.raw_allocs;
    d["num_device_free"] = s.raw_frees;
    d["num_cache_hits"] = s.cache_hits;
    return d;
  }, py::arg("device") = 0, "The caching allocator's counters of one device (all zero without CUDA).");
  c.def("memory_allocated", [](int device) { return pg::cuda::memory_stats(device).allocated; },
        py::arg("device") = 0, "Bytes held by live CUDA tensors.");
  c.def("reset_peak_memory_stats", &pg::cuda::reset_peak_memory_stats, py::arg("device") = 0);

  py::class_<PyStream>(c, "Stream", "A CUDA stream; `with` makes it current for this thread.")
      .def(py::init<>())
      .def("synchronize", [](PyStream& s) {
        py::gil_scoped_release nogil;
        s.stream.synchronize();
      })
      .def("__enter__", [](PyStream& s) -> PyStream& {
        if (s.scope) throw py::value_error("cuda.Stream: already entered");
        s.scope = std::make_unique<pg::cuda::StreamScope>(s.stream);
        return s;
      }, py::return_value_policy::reference)
      .def("__exit__", [](PyStream& s, const py::args&) { s.scope.reset(); });
}

}  // namespace pgpy
