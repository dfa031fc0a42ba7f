// Fitting one key of the piano to a recorded note (models/fit_note.h): pg.fit_note / pg.fit_note_file and
// the FitResult they return. The fit runs with the GIL released; an `on_step` callback re-acquires it, and
// an exception it raises (KeyboardInterrupt included) stops the fit and propagates.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>

#include <sstream>

#include "bind_common.h"
#include "models/fit_note.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

std::string fspath(const py::object& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

py::array_t<float> to_numpy(std::vector<float>&& v) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(heap->size())}, {sizeof(float)}, heap->data(), owner);
}

// Thrown through the C++ fit when the Python callback raised; the Python error stays set (restored)
// until the binding re-raises it with the GIL held.
struct CallbackAbort {};

pg::FitOptions fit_options(double fit_rate, double duration, double pre_roll, double velocity, int max_partials,
                           int steps, double coarse_fraction, int warmup_steps, double lr_scale,
                           bool init_from_spectrum, bool fit_detune, bool fit_strike_position, bool fit_onset,
                           bool knock, bool body, bool room, const py::object& dtype, const py::object& preset,
                           const py::object& on_step) {
  pg::FitOptions o;
  o.sample_rate = fit_rate;
  o.duration = duration;
  o.pre_roll = pre_roll;
  o.velocity = velocity;
  o.max_partials = max_partials;
  o.steps = steps;
  o.coarse_fraction = coarse_fraction;
  o.warmup_steps = warmup_steps;
  o.lr_scale = lr_scale;
  o.init_from_spectrum = init_from_spectrum;
  o.fit_detune = fit_detune;
  o.fit_strike_position = fit_strike_position;
  o.fit_onset = fit_onset;
  o.knock = knock;
  o.body = body;
  o.room = room;
  if (!dtype.is_none()) o.dtype = dtype_from(dtype);
  if (!preset.is_none()) o.preset = fspath(preset);
  if (!on_step.is_none()) {
    o.on_step = [cb = py::function(on_step)](int step, double loss) {
      py::gil_scoped_acquire gil;
      try {
        cb(step, loss);
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      } catch (py::error_already_set& e) {
        e.restore();
        throw CallbackAbort{};
      }
    };
  }
  return o;
}

template <class F>
pg::FitResult run_fit(F&& f) {
  try {
    py::gil_scoped_release rel;
    return f();
  } catch (const CallbackAbort&) {
    throw py::error_already_set();
  }
}

// The fit's keyword options, shared by fit_note and fit_note_file (same names as FitOptions).
#define PG_FIT_KW                                                                                            \
  py::kw_only(), py::arg("fit_rate") = 0.0, py::arg("duration") = 1.0, py::arg("pre_roll") = 0.01,          \
      py::arg("velocity") = 80.0, py::arg("max_partials") = 24, py::arg("steps") = 200,                       \
      py::arg("coarse_fraction") = 0.4, py::arg("warmup_steps") = 10, py::arg("lr_scale") = 1.0,              \
      py::arg("init_from_spectrum") = true, py::arg("fit_detune") = true, py::arg("fit_strike_position") = false, \
      py::arg("fit_onset") = true, py::arg("knock") = true, py::arg("body") = true, py::arg("room") = true,   \
      py::arg("dtype") = py::none(), py::arg("preset") = py::none(), py::arg("initial") = py::none(),         \
      py::arg("on_step") = py::none()

const char* const kFitDoc =
    "\n\nOptions: fit_rate (Hz, 0: the preset's IR rate, 16 kHz by default), duration (s fitted from the onset),\n"
    "pre_roll, velocity, max_partials, steps (Adam steps), coarse_fraction, warmup_steps, lr_scale,\n"
    "init_from_spectrum, fit_detune, fit_strike_position, fit_onset, knock/body/room, dtype, preset (a file to\n"
    "start from) or initial (a pg.Piano), on_step(step, loss) called after every step.\n"
    "Returns a FitResult (summary(), fitted Piano, distances before/after). ValueError for bad input.";

}  // namespace

void bind_fit(py::module_& m) {
  py::class_<pg::NoteValues>(m, "NoteValues", "One key's parameters in physical units.")
      .def_readonly("tuning_cents", &pg::NoteValues::tuning_cents)
      .def_readonly("f0_hz", &pg::NoteValues::f0_hz)
      .def_readonly("B", &pg::NoteValues::B)
      .def_readonly("b1", &pg::NoteValues::b1)
      .def_readonly("b3", &pg::NoteValues::b3)
      .def_readonly("detune_cents", &pg::NoteValues::detune_cents)
      .def_readonly("strings", &pg::NoteValues::strings)
      .def_readonly("cutoff_hz", &pg::NoteValues::cutoff_hz)
      .def_readonly("brightness", &pg::NoteValues::brightness)
      .def_readonly("loudness_db", &pg::NoteValues::loudness_db)
      .def_readonly("strike_position", &pg::NoteValues::strike_position)
      .def("sigma", &pg::NoteValues::sigma, py::arg("p"), "Decay rate (1/s) of partial p (1-based).")
      .def("__repr__", [](const pg::NoteValues& v) {
        std::ostringstream s;
        s << "NoteValues(f0_hz=" << v.f0_hz << ", tuning_cents=" << v.tuning_cents << ", B=" << v.B
          << ", b1=" << v.b1 << ", b3=" << v.b3 << ", cutoff_hz=" << v.cutoff_hz << ", loudness_db=" << v.loudness_db
          << ")";
        return s.str();
      });
  m.def("note_values", &pg::note_values, py::arg("piano"), py::arg("key"), py::arg("velocity") = 80.0,
        "A key's parameters in physical units (f0, B, decay, cutoff at `velocity`, ...).");

  py::class_<pg::FitResult>(m, "FitResult", "The outcome of fit_note: presets, values and distances.")
      .def_readonly("key", &pg::FitResult::key)
      .def_readonly("sample_rate", &pg::FitResult::sample_rate, "The fit rate (Hz).")
      .def_readonly("velocity", &pg::FitResult::velocity)
      .def_readonly("onset_seconds", &pg::FitResult::onset_seconds, "Detected onset in the input (s).")
      .def_readonly("render_onset", &pg::FitResult::render_onset)
      .def_readonly("initial", &pg::FitResult::initial, "The starting Piano.")
      .def_readonly("fitted", &pg::FitResult::fitted, "The fitted Piano (only `key` differs).")
      .def_readonly("before", &pg::FitResult::before)
      .def_readonly("init", &pg::FitResult::init)
      .def_readonly("after", &pg::FitResult::after)
      .def_readonly("partials_found", &pg::FitResult::partials_found)
      .def_readonly("distance_before", &pg::FitResult::distance_before)
      .def_readonly("distance_init", &pg::FitResult::distance_init)
      .def_readonly("distance_after", &pg::FitResult::distance_after)
      .def_readonly("iterations", &pg::FitResult::iterations)
      .def_readonly("seconds", &pg::FitResult::seconds)
      .def_readonly("loss_history", &pg::FitResult::loss_history)
      .def_readonly("num_samples", &pg::FitResult::num_samples)
      .def_property_readonly("target", [](const pg::FitResult& r) { return to_numpy(std::vector<float>(r.target)); },
                             "The aligned, cropped target at the fit rate (float32 array).")
      .def("render_before", [](const pg::FitResult& r) {
        std::vector<float> v;
        {
          py::gil_scoped_release rel;
          v = r.render_before();
        }
        return to_numpy(std::move(v));
      }, "The starting preset's note, aligned with `target`.")
      .def("render_after", [](const pg::FitResult& r) {
        std::vector<float> v;
        {
          py::gil_scoped_release rel;
          v = r.render_after();
        }
        return to_numpy(std::move(v));
      }, "The fitted preset's note, aligned with `target`.")
      .def("save_preset", [](const pg::FitResult& r, const py::object& path) { r.save_preset(fspath(path)); },
           py::arg("path"), "Saves the fitted Piano as a safetensors preset.")
      .def("write_audio_files", [](const pg::FitResult& r, const py::object& before, const py::object& after,
                                   const py::object& target) {
        auto p = [](const py::object& o) { return o.is_none() ? std::string() : fspath(o); };
        const std::string b = p(before), a = p(after), t = p(target);
        py::gil_scoped_release rel;
        r.write_audio_files(b, a, t);
      }, py::arg("before") = py::none(), py::arg("after") = py::none(), py::arg("target") = py::none(),
      "Writes the before/after renders (and the target) at the fit rate; None skips one.")
      .def("summary", &pg::FitResult::summary, "A human-readable report (distances before/after, values).")
      .def("__str__", &pg::FitResult::summary)
      .def("__repr__", [](const pg::FitResult& r) {
        std::ostringstream s;
        s << "FitResult(key=" << r.key << ", distance " << r.distance_before << " -> " << r.distance_after << ", "
          << r.iterations << " steps, " << r.seconds << " s)";
        return s.str();
      });

  m.def("fit_note", [](const py::object& audio, double sample_rate, int key, double fit_rate, double duration,
                       double pre_roll, double velocity, int max_partials, int steps, double coarse_fraction,
                       int warmup_steps, double lr_scale, bool init_from_spectrum, bool fit_detune,
                       bool fit_strike_position, bool fit_onset, bool knock, bool body, bool room,
                       const py::object& dtype, const py::object& preset, const py::object& initial,
                       const py::object& on_step) {
    const auto o = fit_options(fit_rate, duration, pre_roll, velocity, max_partials, steps, coarse_fraction,
                               warmup_steps, lr_scale, init_from_spectrum, fit_detune, fit_strike_position, fit_onset,
                               knock, body, room, dtype, preset, on_step);
    auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(
        py::module_::import("numpy").attr("asarray")(audio, "float32"));
    if (!arr || arr.ndim() != 1) throw pg::ShapeError("fit_note: expected mono audio (a 1-D array)");
    const std::vector<float> x(arr.data(), arr.data() + arr.size());
    if (initial.is_none()) return run_fit([&] { return pg::fit_note(x, sample_rate, key, o); });
    const auto init = initial.cast<pg::PianoParams>();
    return run_fit([&] { return pg::fit_note(x, sample_rate, key, o, init); });
  }, py::arg("audio"), py::arg("sample_rate"), py::arg("key"), PG_FIT_KW,
  (std::string("Fits one key of the piano to a recording of a single note (mono samples at sample_rate, or a\n"
               "Tensor): analysis by synthesis on the multi-resolution spectral loss.") + kFitDoc).c_str());

  m.def("fit_note_file", [](const py::object& path, int key, double fit_rate, double duration, double pre_roll,
                            double velocity, int max_partials, int steps, double coarse_fraction, int warmup_steps,
                            double lr_scale, bool init_from_spectrum, bool fit_detune, bool fit_strike_position,
                            bool fit_onset, bool knock, bool body, bool room, const py::object& dtype,
                            const py::object& preset, const py::object& initial, const py::object& on_step) {
    if (!initial.is_none())
      throw py::type_error("fit_note_file: pass preset=PATH (initial= is for fit_note)");
    const auto o = fit_options(fit_rate, duration, pre_roll, velocity, max_partials, steps, coarse_fraction,
                               warmup_steps, lr_scale, init_from_spectrum, fit_detune, fit_strike_position, fit_onset,
                               knock, body, room, dtype, preset, on_step);
    const std::string p = fspath(path);
    return run_fit([&] { return pg::fit_note_file(p, key, o); });
  }, py::arg("path"), py::arg("key"), PG_FIT_KW,
  (std::string("fit_note on an audio file (any format libsndfile reads; mixed to mono, resampled).") + kFitDoc).c_str());
}

#undef PG_FIT_KW

}  // namespace pgpy
