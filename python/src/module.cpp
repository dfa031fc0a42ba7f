// pianograd._core: the compiled half of the `pianograd` Python package (python/pianograd/ re-exports
// it with the Pythonic surface). Each C++ area binds itself in its own bind_*.cpp.
#include "bind_common.h"

namespace pgpy {
void bind_synth(py::module_& m);  // bind_synth.cpp
void bind_fit(py::module_& m);    // bind_fit.cpp
void bind_transcriber(py::module_& m);  // bind_transcriber.cpp
void bind_metrics(py::module_& m);  // bind_metrics.cpp
void bind_ngram(py::module_& m);    // bind_ngram.cpp
void bind_motion(py::module_& m);  // bind_motion.cpp
void bind_motion_lm(py::module_& m);  // bind_motion_lm.cpp
void bind_image(py::module_& m);  // bind_image.cpp
void bind_omr_metrics(py::module_& m);  // bind_omr_metrics.cpp
void bind_ctc(py::module_& m);  // bind_ctc.cpp
void bind_distributed(py::module_& m);  // bind_distributed.cpp
}  // namespace pgpy

PYBIND11_MODULE(_core, m) {
  m.doc() = "pianograd's C++ engine: tensors, reverse-mode autodiff, ops, nn, optimizers, checkpoints.";
  m.attr("__version__") = PIANOGRAD_VERSION;
  pgpy::bind_errors(m);
  pgpy::bind_tensor(m);
  pgpy::bind_ops(m);
  pgpy::bind_nn(m);
  pgpy::bind_optim(m);
  pgpy::bind_io(m);
  pgpy::bind_synth(m);
  pgpy::bind_fit(m);
  pgpy::bind_transcriber(m);
  pgpy::bind_metrics(m);
  pgpy::bind_ngram(m);
  pgpy::bind_motion(m);
  pgpy::bind_motion_lm(m);
  pgpy::bind_image(m);
  pgpy::bind_omr_metrics(m);
  pgpy::bind_ctc(m);
  pgpy::bind_distributed(m);
  pgpy::bind_info(m);
}
