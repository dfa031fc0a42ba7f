// The motion language model's tokens (models/motion_tokens.h): pg.MotionTokenizer.
#include <string>
#include <vector>

#include <pybind11/numpy.h>

#include "bind_common.h"
#include "models/motion_tokens.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

// Anything pg.Performance(...) accepts: a pg.Performance, an object with .notes/.pedal, a list of notes.
pg::Performance to_performance(const py::handle& h) {
  if (py::isinstance<pg::Performance>(h)) return h.cast<pg::Performance>();
  return py::type::of<pg::Performance>()(h).cast<pg::Performance>();
}

std::vector<int32_t> tokens_from(const py::handle& obj) {
  py::object arr = py::module_::import("numpy").attr("asarray")(obj);
  const std::string kind = py::str(arr.attr("dtype").attr("kind"));
  if (kind != "i" && kind != "u" && !(kind == "f" && py::cast<int>(arr.attr("size")) == 0))
    throw pg::DTypeError("MotionTokenizer: tokens must be integers, got dtype " + std::string(py::str(arr.attr("dtype"))));
  if (py::cast<int>(arr.attr("ndim")) != 1)
    throw pg::ShapeError("MotionTokenizer: tokens must be 1-D, got ndim " + std::to_string(py::cast<int>(arr.attr("ndim"))));
  auto a = arr.cast<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>();
  std::vector<int32_t> out(static_cast<size_t>(a.size()));
  for (py::ssize_t i = 0; i < a.size(); ++i) {
    const int64_t v = a.data()[i];
    if (v < INT32_MIN || v > INT32_MAX)
      throw pg::ValueError("MotionTokenizer: token " + std::to_string(v) + " at position " + std::to_string(i) +
                           " outside the vocabulary");
    out[static_cast<size_t>(i)] = static_cast<int32_t>(v);
  }
  return out;
}

}  // namespace

void bind_motion(py::module_& m) {
  py::enum_<pg::TokenKind>(m, "TokenKind", "What a motion token is.")
      .value("pad", pg::TokenKind::pad).value("bos", pg::TokenKind::bos).value("eos", pg::TokenKind::eos)
      .value("note_on", pg::TokenKind::note_on).value("note_off", pg::TokenKind::note_off)
      .value("shift", pg::TokenKind::shift).value("velocity", pg::TokenKind::velocity)
      .value("pedal_on", pg::TokenKind::pedal_on).value("pedal_off", pg::TokenKind::pedal_off);
  py::enum_<pg::TokenField>(m, "TokenField", "The aspect of the music a token carries (per-field NLL).")
      .value("special", pg::TokenField::special).value("pitch", pg::TokenField::pitch)
      .value("time", pg::TokenField::time).value("velocity", pg::TokenField::velocity)
      .value("pedal", pg::TokenField::pedal);

  py::class_<pg::MotionTokenizer>(
      m, "MotionTokenizer",
      "Performances as event tokens (Performance RNN's vocabulary plus the sustain pedal): NOTE_ON and\n"
      "NOTE_OFF per key, SHIFT by 1..max_shift_steps steps of time_step seconds, VELOCITY in velocity_bins\n"
      "bins, PEDAL_ON/PEDAL_OFF, and PAD=0, BOS=1, EOS=2. decode(encode(p)) == quantize(p): lossless within\n"
      "the time grid, the velocity bins and the pedal's up/down.")
      .def(py::init([](double time_step, int max_shift_steps, int velocity_bins) {
             return pg::MotionTokenizer(pg::TokenizerConfig{time_step, max_shift_steps, velocity_bins});
           }),
           py::arg("time_step") = 0.01, py::arg("max_shift_steps") = 100, py::arg("velocity_bins") = 32)
      .def_property_readonly("vocab_size", &pg::MotionTokenizer::vocab_size)
      .def_property_readonly("time_step", [](const pg::MotionTokenizer& t) { return t.config().time_step; })
      .def_property_readonly("max_shift_steps", [](const pg::MotionTokenizer& t) { return t.config().max_shift_steps; })
      .def_property_readonly("velocity_bins", [](const pg::MotionTokenizer& t) { return t.config().velocity_bins; })
      .def_property_readonly_static("PAD", [](const py::object&) { return pg::MotionTokenizer::kPad; })
      .def_property_readonly_static("BOS", [](const py::object&) { return pg::MotionTokenizer::kBos; })
      .def_property_readonly_static("EOS", [](const py::object&) { return pg::MotionTokenizer::kEos; })
      .def("encode",
           [](const pg::MotionTokenizer& t, const py::handle& perf, bool bos, bool eos) {
             const std::vector<int32_t> v = t.encode(to_performance(perf), bos, eos);
             py::array_t<int32_t> out(static_cast<py::ssize_t>(v.size()));
             std::copy(v.begin(), v.end(), out.mutable_data());
             return out;
           },
           py::arg("performance"), py::arg("bos") = false, py::arg("eos") = false,
           "Tokens of a performance (anything pg.Performance accepts) as an int32 array.")
      .def("decode", [](const pg::MotionTokenizer& t, const py::handle& tokens) { return t.decode(tokens_from(tokens)); },
           py::arg("tokens"), "A valid performance from tokens (lenient: see the class doc).")
      .def("quantize", [](const pg::MotionTokenizer& t, const py::handle& perf) { return t.quantize(to_performance(perf)); },
           py::arg("performance"))
      .def("seconds", [](const pg::MotionTokenizer& t, const py::handle& tokens) {
             const auto v = tokens_from(tokens);
             return t.seconds(v.data(), v.size());
           }, py::arg("tokens"), "Seconds of music the tokens span (the sum of their SHIFTs).")
      .def("kind", &pg::MotionTokenizer::kind, py::arg("token"))
      .def("field", &pg::MotionTokenizer::field, py::arg("token"))
      .def("value", &pg::MotionTokenizer::value, py::arg("token"))
      .def("name", &pg::MotionTokenizer::name, py::arg("token"))
      .def("fields", [](const pg::MotionTokenizer& t) {
             py::array_t<int8_t> out(t.vocab_size());
             for (int32_t i = 0; i < t.vocab_size(); ++i) out.mutable_data()[i] = static_cast<int8_t>(t.field(i));
             return out;
           }, "The TokenField of every token id, as an int8 array of vocab_size (for per-field NLL).")
      .def("note_on", &pg::MotionTokenizer::note_on, py::arg("key"))
      .def("note_off", &pg::MotionTokenizer::note_off, py::arg("key"))
      .def("shift", &pg::MotionTokenizer::shift, py::arg("steps"))
      .def("velocity", &pg::MotionTokenizer::velocity, py::arg("bin"))
      .def_property_readonly("pedal_on", &pg::MotionTokenizer::pedal_on)
      .def_property_readonly("pedal_off", &pg::MotionTokenizer::pedal_off)
      .def("velocity_bin", &pg::MotionTokenizer::velocity_bin, py::arg("velocity"))
      .def("bin_velocity", &pg::MotionTokenizer::bin_velocity, py::arg("bin"))
      .def(py::pickle(
          [](const pg::MotionTokenizer& t) {
            return py::make_tuple(t.config().time_step, t.config().max_shift_steps, t.config().velocity_bins);
          },
          [](const py::tuple& s) {
            return pg::MotionTokenizer(
                pg::TokenizerConfig{s[0].cast<double>(), s[1].cast<int>(), s[2].cast<int>()});
          }))
      .def("__repr__", [](const pg::MotionTokenizer& t) {
        return "MotionTokenizer(time_step=" + std::to_string(t.config().time_step) + ", max_shift_steps=" +
               std::to_string(t.config().max_shift_steps) + ", velocity_bins=" +
               std::to_string(t.config().velocity_bins) + ", vocab_size=" + std::to_string(t.vocab_size()) + ")";
      });
}

}  // namespace pgpy
