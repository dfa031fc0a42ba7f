// Checkpoints: safetensors files (autodiff/checkpoint.h), readable by NumPy / PyTorch tooling.
#include "autodiff/checkpoint.h"
#include "bind_common.h"

namespace pgpy {
namespace pg = pianograd;

void bind_io(py::module_& m) {
  auto path_str = [](const py::object& p) -> std::string {
    return py::str(py::module_::import("os").attr("fspath")(p));
  };
  m.def("save_safetensors", [=](const py::object& path, const std::map<std::string, Tensor>& tensors,
                                const std::map<std::string, std::string>& metadata) {
    const std::string p = path_str(path);
    py::gil_scoped_release rel;
    pg::save_safetensors(p, tensors, metadata);
  }, py::arg("path"), py::arg("tensors"), py::arg("metadata") = std::map<std::string, std::string>{},
  "Writes {name: tensor} (and string metadata) as a safetensors file, atomically.");
  m.def("load_safetensors", [=](const py::object& path, bool with_metadata) -> py::object {
    const std::string p = path_str(path);
    pg::SafetensorsFile f;
    {
      py::gil_scoped_release rel;
      f = pg::load_safetensors(p);
    }
    if (with_metadata) return py::make_tuple(f.tensors, f.metadata);
    return py::cast(f.tensors);
  }, py::arg("path"), py::arg("with_metadata") = false,
  "Reads a safetensors file: {name: tensor}, or ({name: tensor}, metadata) with with_metadata=True.\n"
  "FileNotFoundError when absent, OSError naming the problem for a malformed file.");
}

}  // namespace pgpy
