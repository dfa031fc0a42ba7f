// The piano: performances (Note, Performance), MIDI and audio files, piano rolls, and the differentiable
// renderers behind pg.Piano (a PianoParams preset). Renders release the GIL: they run for a while and
// never call back into Python.
#include <cmath>
#include <filesystem>
#include <sstream>

#include <pybind11/numpy.h>
#include <pybind11/operators.h>

#include "bind_common.h"
#include "synth/atomic_file.h"
#include "synth/audio_io.h"
#include "synth/event_renderer.h"
#include "synth/midi.h"
#include "synth/performance.h"
#include "synth/piano_params.h"
#include "synth/pedal_roll.h"
#include "synth/piano_roll.h"
#include "synth/roll_renderer.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

std::string fspath(const py::object& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

// A note from a pg.Note, a (key, onset, offset, velocity) sequence, a dict, or any object with those
// attributes (pianograd.data.Note, pretty_midi.Note has `pitch`/`start`/`end` and is accepted too).
// A note field as an int or a float, as a ValueError naming the note and the field otherwise (pybind11's
// own cast error is a RuntimeError that names neither). An integer-valued float (64.0) is an int.
int int_field(const py::handle& v, size_t index, const char* field) {
  if (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v) ||
                                        py::hasattr(v, "__index__") || py::hasattr(v, "__float__")))
    throw py::value_error("Performance: note " + std::to_string(index) + ": " + field + " must be an integer, got " +
                          std::string(py::repr(v)));
  const double d = py::hasattr(v, "__index__") ? py::float_(py::reinterpret_borrow<py::object>(v)).cast<double>()
                                              : v.cast<double>();
  if (!(std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e9))
    throw py::value_error("Performance: note " + std::to_string(index) + ": " + field + " must be an integer, got " +
                          std::string(py::repr(v)));
  return static_cast<int>(d);
}

double real_field(const py::handle& v, size_t index, const char* field) {
  if (py::isinstance<py::bool_>(v) || py::isinstance<py::str>(v) || !py::hasattr(v, "__float__"))
    throw py::value_error("Performance: note " + std::to_string(index) + ": " + field + " must be a number, got " +
                          std::string(py::repr(v)));
  return v.cast<double>();
}

pg::Note note_from(const py::handle& h, size_t i = 0) {
  if (py::isinstance<pg::Note>(h)) return h.cast<pg::Note>();
  pg::Note n;
  auto fill = [&](const py::handle& key, const py::handle& on, const py::handle& off, const py::handle& vel) {
    n.key = int_field(key, i, "key");
    n.onset = real_field(on, i, "onset");
    n.offset = real_field(off, i, "offset");
    if (!vel.is_none()) n.velocity = int_field(vel, i, "velocity");
  };
  if (py::isinstance<py::dict>(h)) {
    auto d = h.cast<py::dict>();
    for (const char* k : {"key", "onset", "offset"})
      if (!d.contains(k)) throw py::value_error("Performance: note " + std::to_string(i) + ": no '" + k + "' in the dict");
    fill(d["key"], d["onset"], d["offset"], d.contains("velocity") ? py::object(d["velocity"]) : py::object(py::none()));
    return n;
  }
  if (py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h)) {
    auto s = h.cast<py::sequence>();
    if (s.size() != 3 && s.size() != 4)
      throw py::value_error("Performance: note " + std::to_string(i) + ": a note sequence must be (key, onset, offset[, "
                            "velocity]), got " + std::to_string(s.size()) + " items");
    fill(s[0], s[1], s[2], s.size() == 4 ? py::object(s[3]) : py::object(py::none()));
    return n;
  }
  auto get = [&](const char* a, const char* b) -> py::object {
    if (py::hasattr(h, a)) return h.attr(a);
    if (py::hasattr(h, b)) return h.attr(b);
    throw py::type_error(std::string("Performance: cannot read a note from ") +
                         std::string(py::str(py::type::of(h).attr("__name__"))) + " (no '" + a + "' attribute)");
  };
  fill(get("key", "pitch"), get("onset", "start"), get("offset", "end"), get("velocity", "velocity"));
  return n;
}

pg::PedalPoint pedal_from(const py::handle& h) {
  if (py::isinstance<pg::PedalPoint>(h)) return h.cast<pg::PedalPoint>();
  if (py::hasattr(h, "time") && py::hasattr(h, "value"))
    return {h.attr("time").cast<double>(), h.attr("value").cast<double>()};
  auto s = h.cast<py::sequence>();
  if (s.size() != 2) throw py::value_error("Performance: a pedal point must be (time, value)");
  return {s[0].cast<double>(), s[1].cast<double>()};
}

pg::Performance performance_from(const py::handle& notes, const py::handle& pedal, bool validate) {
  pg::Performance p;
  if (!notes.is_none())
    for (auto h : notes) p.notes.push_back(note_from(h, p.notes.size()));
  if (!pedal.is_none())
    for (auto h : pedal) p.pedal.push_back(pedal_from(h));
  if (validate) p.validate();
  return p;
}

py::dict performance_dict(const pg::Performance& p) {
  py::list notes, pedal;
  for (const auto& n : p.notes) {
    py::list e;
    e.append(n.key), e.append(n.onset), e.append(n.offset), e.append(n.velocity);
    notes.append(e);
  }
  for (const auto& q : p.pedal) {
    py::list e;
    e.append(q.time), e.append(q.value);
    pedal.append(e);
  }
  py::dict d;
  d["notes"] = notes;
  d["pedal"] = pedal;
  return d;
}

// A pg.Performance as is; anything with `notes` (and optionally `pedal`) attributes, or a list of notes.
pg::Performance as_performance(const py::handle& obj, bool validate = true) {
  if (py::isinstance<pg::Performance>(obj)) return obj.cast<pg::Performance>();
  if (py::hasattr(obj, "notes")) {
    const py::object pedal = py::hasattr(obj, "pedal") ? py::object(obj.attr("pedal")) : py::object(py::none());
    return performance_from(obj.attr("notes"), pedal, validate);
  }
  return performance_from(obj, py::none(), validate);
}

std::vector<float> samples_from(const py::handle& obj) {
  py::object arr = py::module_::import("numpy").attr("asarray")(obj, "float32");
  if (py::cast<int>(arr.attr("ndim")) > 1)
    throw pg::ShapeError("audio: expected mono samples (1-D), got ndim " + std::to_string(py::cast<int>(arr.attr("ndim"))));
  auto a = arr.cast<py::array_t<float, py::array::c_style | py::array::forcecast>>();
  return std::vector<float>(a.data(), a.data() + a.size());
}

py::array_t<float> to_numpy(std::vector<float>&& v) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(heap->size())}, {sizeof(float)}, heap->data(), owner);
}

template <class E>
E enum_from(const std::string& s, std::initializer_list<std::pair<const char*, E>> table, const char* what) {
  std::string names;
  for (auto& [n, e] : table) {
    if (s == n) return e;
    names += std::string(names.empty() ? "" : ", ") + n;
  }
  throw pg::ValueError(std::string(what) + ": unknown value '" + s + "' (expected one of " + names + ")");
}

int param_id(const std::string& name) {
  for (int i = 0; i < pg::kNumPianoParams; ++i)
    if (name == pg::piano_param_name(i)) return i;
  throw py::key_error("Piano: no parameter named '" + name + "'");
}

// Render options from keyword arguments: unknown names are a TypeError, as for any Python function.
pg::RenderOptions render_options_from(double sample_rate, const py::kwargs& kw) {
  pg::RenderOptions o;
  o.sample_rate = sample_rate;
  for (auto item : kw) {
    const std::string k = py::str(item.first);
    const py::handle v = item.second;
    if (k == "max_partials") o.max_partials = v.cast<int>();
    else if (k == "knock") o.knock = v.cast<bool>();
    else if (k == "body") o.body = v.cast<bool>();
    else if (k == "room") o.room = v.cast<bool>();
    else if (k == "damper_tau") o.damper_tau = v.cast<double>();
    else if (k == "pedal_frame_rate") o.pedal_frame_rate = v.cast<double>();
    else if (k == "rel_threshold") o.rel_threshold = v.cast<double>();
    else if (k == "checkpoint") o.checkpoint = v.cast<long>();
    else if (k == "group_size") o.group_size = v.cast<int>();
    else if (k == "tape_budget_bytes") o.tape_budget_bytes = v.cast<double>();
    else if (k == "tail_seconds") o.tail_seconds = v.cast<double>();
    else if (k == "partial_floor") o.partial_floor = v.cast<double>();
    else if (k == "device") o.device = pg::parse_device(py::str(v).cast<std::string>());
    else throw py::type_error("render: unexpected keyword argument '" + k + "'");
  }
  return o;
}

const char* const kRenderKw =
    "\n\nRender options (keywords): max_partials (0: per-key table), knock, body, room (bool), damper_tau (s),\n"
    "pedal_frame_rate, rel_threshold, partial_floor, checkpoint, group_size, tape_budget_bytes, tail_seconds,\n"
    "device (\"cpu\" or \"cuda[:i]\": where render/render_batch build their controls and run the modal bank;\n"
    "render_events/render_roll run on their control tensors' device).";

}  // namespace

void bind_synth(py::module_& m) {
  py::class_<pg::Note>(m, "Note", "One key press: MIDI key 21..108, onset/offset in seconds, velocity 1..127.")
      .def(py::init([](int key, double onset, double offset, int velocity) {
             return pg::Note{key, onset, offset, velocity};
           }), py::arg("key") = 60, py::arg("onset") = 0.0, py::arg("offset") = 0.0, py::arg("velocity") = 64)
      .def_readwrite("key", &pg::Note::key)
      .def_readwrite("onset", &pg::Note::onset)
      .def_readwrite("offset", &pg::Note::offset)
      .def_readwrite("velocity", &pg::Note::velocity)
      .def(py::self == py::self)
      .def(py::pickle([](const pg::Note& n) { return py::make_tuple(n.key, n.onset, n.offset, n.velocity); },
                      [](const py::tuple& t) { return note_from(t); }))
      .def("__repr__", [](const pg::Note& n) {
        std::ostringstream s;
        s << "Note(key=" << n.key << ", onset=" << n.onset << ", offset=" << n.offset << ", velocity=" << n.velocity << ")";
        return s.str();
      });
  py::class_<pg::PedalPoint>(m, "PedalPoint", "Sustain pedal value (0 up .. 1 down) from `time` on.")
      .def(py::init([](double t, double v) { return pg::PedalPoint{t, v}; }), py::arg("time") = 0.0, py::arg("value") = 0.0)
      .def_readwrite("time", &pg::PedalPoint::time)
      .def_readwrite("value", &pg::PedalPoint::value)
      .def(py::self == py::self)
      .def("__iter__", [](const pg::PedalPoint& p) { return py::iter(py::make_tuple(p.time, p.value)); })
      .def("__repr__", [](const pg::PedalPoint& p) {
        std::ostringstream s;
        s << "PedalPoint(time=" << p.time << ", value=" << p.value << ")";
        return s.str();
      });

  m.attr("MIN_KEY") = pg::kMinKey;  // A0: the piano's 88 keys as MIDI key numbers
  m.attr("MAX_KEY") = pg::kMaxKey;  // C8
  m.attr("NUM_KEYS") = pg::kNumKeys;
  py::class_<pg::Performance>(m, "Performance",
      "Notes plus the sustain pedal: what a pianist does (times in seconds).\n\n"
      "Performance(notes=[], pedal=[], validate=True): notes are pg.Note, (key, onset, offset[, velocity])\n"
      "tuples, dicts or objects with those attributes (pianograd.data.Note); pedal points are (time, value)\n"
      "pairs. Performance(obj) also copies any object with `notes`/`pedal` attributes. Invalid input\n"
      "raises ValueError naming the note and field.")
      .def(py::init([](const py::object& notes, const py::object& pedal, bool validate) {
             if (!notes.is_none() && pedal.is_none() && py::hasattr(notes, "notes")) return as_performance(notes, validate);
             return performance_from(notes, pedal, validate);
           }), py::arg("notes") = py::none(), py::arg("pedal") = py::none(), py::arg("validate") = true)
      .def_property("notes", [](const pg::Performance& p) { return p.notes; },
                    [](pg::Performance& p, const py::iterable& v) { p.notes = performance_from(v, py::none(), false).notes; },
                    "The notes (a copy: assign the list back to change them).")
      .def_property("pedal", [](const pg::Performance& p) {
             py::list out;
             for (auto& q : p.pedal) out.append(py::make_tuple(q.time, q.value));
             return out;
           },
           [](pg::Performance& p, const py::iterable& v) { p.pedal = performance_from(py::none(), v, false).pedal; },
           "Sustain pedal control points as (time, value) pairs, value 0 (up) .. 1 (down).")
      .def("validate", &pg::Performance::validate, "Raises ValueError naming the offending note/pedal point.")
      .def_property_readonly("duration", &pg::Performance::duration, "End of the last note or pedal point (s).")
      .def("sort", [](pg::Performance& p) { p.sort(); return &p; }, py::return_value_policy::reference_internal,
           "Sorts notes by (onset, key) and pedal points by time, in place; returns self.")
      .def("pedal_at", &pg::Performance::pedal_at, py::arg("t"), "Pedal value in effect at time t.")
      .def("quantized", &pg::Performance::quantized, py::arg("step") = 0.001,
           "Times on a grid of `step` s (then to the microsecond); a collapsed note keeps one step; sorted.")
      .def("window", &pg::Performance::window, py::arg("start"), py::arg("end"), py::arg("min_len") = 0.03,
           "The excerpt [start, end) shifted to 0: notes starting before end - min_len, offsets clipped,\n"
           "the pedal at `start` carried in and lifted at the cut.")
      .def("transformed", &pg::Performance::transformed, py::arg("semitones") = 0, py::arg("time_scale") = 1.0,
           py::arg("velocity_scale") = 1.0,
           "Transposed (keys off the keyboard dropped), time-scaled and velocity-scaled copy (augmentation).")
      .def("to_dict", [](const pg::Performance& p) { return performance_dict(p); },
           "{'notes': [[key, onset, offset, velocity], ...], 'pedal': [[time, value], ...]} (the label JSON).")
      .def_static("from_dict", [](const py::dict& d) {
             return performance_from(d["notes"], d.contains("pedal") ? py::object(d["pedal"]) : py::object(py::list()), true);
           }, py::arg("d"))
      .def("save_json", [](const pg::Performance& p, const py::object& path) {
             const std::string text = py::str(py::module_::import("json").attr("dumps")(
                 performance_dict(p), py::arg("separators") = py::make_tuple(",", ":")));
             const std::filesystem::path target = fspath(path);
             if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
             pg::detail::write_bytes_atomically(target, "Performance.save_json",
                                                reinterpret_cast<const uint8_t*>(text.data()), text.size());
           }, py::arg("path"), "Writes to_dict() as compact JSON, atomically (parent folders created).")
      .def_static("load_json", [](const py::object& path) {
             const py::object text = py::module_::import("pathlib").attr("Path")(path).attr("read_text")();
             const py::dict d = py::module_::import("json").attr("loads")(text);
             return performance_from(d["notes"], d.contains("pedal") ? py::object(d["pedal"]) : py::object(py::list()), true);
           }, py::arg("path"))
      .def("to_arrays", [](const pg::Performance& p) {
             const size_t n = p.notes.size();
             py::array_t<int32_t> key(n), vel(n);
             py::array_t<double> on(n), off(n);
             py::array_t<double> ped({static_cast<py::ssize_t>(p.pedal.size()), py::ssize_t{2}});
             for (size_t i = 0; i < n; ++i) {
               key.mutable_data()[i] = p.notes[i].key;
               vel.mutable_data()[i] = p.notes[i].velocity;
               on.mutable_data()[i] = p.notes[i].onset;
               off.mutable_data()[i] = p.notes[i].offset;
             }
             for (size_t i = 0; i < p.pedal.size(); ++i) {
               ped.mutable_data()[2 * i] = p.pedal[i].time;
               ped.mutable_data()[2 * i + 1] = p.pedal[i].value;
             }
             py::dict d;
             d["key"] = key, d["onset"] = on, d["offset"] = off, d["velocity"] = vel, d["pedal"] = ped;
             return d;
           }, "NumPy arrays: key/velocity int32, onset/offset float64, pedal (P, 2).")
      .def("to_midi", [](const pg::Performance& p, const py::object& path, int program) {
             // One tick per millisecond (500 ticks per quarter at 120 bpm): the grid of quantized().
             const std::filesystem::path target = fspath(path);
             if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
             pg::write_midi(target.string(), p, pg::MidiWriteOptions{0, 500, 0, program});
           }, py::arg("path"), py::arg("program") = 0,
           "A type-0 MIDI file with one tick per millisecond and a program change, atomically (parent\n"
           "folders created).")
      .def("copy", [](const pg::Performance& p) { return p; })
      .def("__len__", [](const pg::Performance& p) { return p.notes.size(); })
      .def(py::self == py::self)
      .def(py::pickle([](const pg::Performance& p) {
             py::object self = py::cast(p);
             return py::make_tuple(self.attr("notes"), self.attr("pedal"));
           },
           [](const py::tuple& t) { return performance_from(t[0], t[1], false); }))
      .def("__repr__", [](const pg::Performance& p) {
        std::ostringstream s;
        s << "Performance(" << p.notes.size() << " notes, " << p.pedal.size() << " pedal points, duration="
          << p.duration() << " s)";
        return s.str();
      });

  // ---- MIDI files
  m.def("read_midi", [](const py::object& path, bool include_drum_channel, bool error_on_out_of_range_keys) {
    const std::string p = fspath(path);
    py::gil_scoped_release rel;
    return pg::read_midi(p, {include_drum_channel, error_on_out_of_range_keys});
  }, py::arg("path"), py::kw_only(), py::arg("include_drum_channel") = false,
  py::arg("error_on_out_of_range_keys") = false,
  "Reads a Standard MIDI File (format 0/1) into a Performance (tempo map applied, tracks merged, CC64 as\n"
  "the pedal). FileNotFoundError when absent, OSError naming the byte offset for a corrupt file.");
  m.def("parse_midi", [](const py::bytes& data, const std::string& name, bool include_drum_channel,
                         bool error_on_out_of_range_keys) {
    const std::string s = data;
    py::gil_scoped_release rel;
    return pg::parse_midi(reinterpret_cast<const uint8_t*>(s.data()), s.size(), name,
                          {include_drum_channel, error_on_out_of_range_keys});
  }, py::arg("data"), py::arg("name") = "<memory>", py::kw_only(), py::arg("include_drum_channel") = false,
  py::arg("error_on_out_of_range_keys") = false, "read_midi from bytes in memory.");
  auto write_opts = [](int format, int tpq, int channel, int program) {
    return pg::MidiWriteOptions{format, tpq, channel, program};
  };
  m.def("encode_midi", [=](const py::object& perf, int format, int ticks_per_quarter, int channel, int program) {
    const auto b = pg::encode_midi(as_performance(perf), write_opts(format, ticks_per_quarter, channel, program));
    return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
  }, py::arg("performance"), py::kw_only(), py::arg("format") = 1, py::arg("ticks_per_quarter") = 480,
  py::arg("channel") = 0, py::arg("program") = -1,
  "A performance as Standard MIDI File bytes (120 bpm; program >= 0 adds a program change).");
  m.def("write_midi", [=](const py::object& path, const py::object& perf, int format, int ticks_per_quarter, int channel,
                          int program) {
    const std::string p = fspath(path);
    const pg::Performance q = as_performance(perf);
    py::gil_scoped_release rel;
    pg::write_midi(p, q, write_opts(format, ticks_per_quarter, channel, program));
  }, py::arg("path"), py::arg("performance"), py::kw_only(), py::arg("format") = 1,
  py::arg("ticks_per_quarter") = 480, py::arg("channel") = 0, py::arg("program") = -1,
  "Writes a performance as a Standard MIDI File (format 1 by default, 120 bpm), atomically.\n"
  "Times survive a read_midi round trip within half a tick (0.52 ms at 480 ticks per quarter).");

  // ---- audio files
  m.def("read_audio", [](const py::object& path) {
    const std::string p = fspath(path);
    pg::Audio a;
    {
      py::gil_scoped_release rel;
      a = pg::read_audio(p);
    }
    return py::make_tuple(to_numpy(std::move(a.samples)), a.sample_rate);
  }, py::arg("path"),
  "Reads WAV/FLAC/AIFF/OGG (libsndfile), mixed down to mono: (float32 array, sample_rate).");
  m.def("write_audio", [](const py::object& path, const py::object& samples, int sample_rate,
                          const std::string& format, const std::string& clipping, float peak) {
    pg::AudioWriteOptions o;
    o.format = enum_from<pg::SampleFormat>(format, {{"pcm16", pg::SampleFormat::pcm16},
        {"pcm24", pg::SampleFormat::pcm24}, {"float32", pg::SampleFormat::float32}}, "write_audio: format");
    o.clipping = enum_from<pg::ClipPolicy>(clipping, {{"error", pg::ClipPolicy::error},
        {"clip", pg::ClipPolicy::clip}, {"normalize", pg::ClipPolicy::normalize}}, "write_audio: clipping");
    o.peak = peak;
    const std::string p = fspath(path);
    const auto s = samples_from(samples);
    py::gil_scoped_release rel;
    pg::write_audio(p, s, sample_rate, o);
  }, py::arg("path"), py::arg("samples"), py::arg("sample_rate"), py::kw_only(), py::arg("format") = "pcm16",
  py::arg("clipping") = "error", py::arg("peak") = 0.99f,
  "Writes mono samples (array or Tensor) to .wav/.flac/.aiff, atomically. format: pcm16, pcm24, float32;\n"
  "clipping (samples outside [-1, 1]): 'error' (ValueError), 'clip', or 'normalize' to `peak`.");
  m.def("resample", [](const py::object& samples, double sr_in, double sr_out, const std::string& quality) {
    const auto q = enum_from<pg::ResampleQuality>(quality, {{"best", pg::ResampleQuality::best},
        {"medium", pg::ResampleQuality::medium}, {"fastest", pg::ResampleQuality::fastest}}, "resample: quality");
    auto s = samples_from(samples);
    std::vector<float> out;
    {
      py::gil_scoped_release rel;
      out = pg::resample(s, sr_in, sr_out, q);
    }
    return to_numpy(std::move(out));
  }, py::arg("samples"), py::arg("sr_in"), py::arg("sr_out"), py::kw_only(), py::arg("quality") = "best",
  "Band-limited resampling (libsamplerate sinc) of mono samples: round(n * sr_out / sr_in) samples back.");

  // ---- piano rolls
  m.def("performance_to_rolls", [](const py::object& perf, double frame_rate, bool pedal_extend, int64_t num_frames) {
    const auto r = pg::performance_to_rolls(as_performance(perf), frame_rate, {pedal_extend, num_frames});
    py::dict d;
    d["onset"] = r.onset; d["frame"] = r.frame; d["offset"] = r.offset; d["velocity"] = r.velocity;
    return d;
  }, py::arg("performance"), py::arg("frame_rate"), py::kw_only(), py::arg("pedal_extend") = true,
  py::arg("num_frames") = -1,
  "Piano rolls {onset, frame, offset, velocity}, each float32 [frames, 88] (column k = key 21 + k).");
  m.def("rolls_to_performance", [](const Tensor& onset, const Tensor& frame, double frame_rate,
                                   const std::optional<Tensor>& offset, const std::optional<Tensor>& velocity,
                                   double onset_threshold, double frame_threshold, double offset_threshold,
                                   const std::optional<Tensor>& pedal_frame, const std::optional<Tensor>& pedal_onset,
                                   const std::optional<Tensor>& pedal_offset, double pedal_threshold,
                                   double pedal_min_seconds, int64_t pedal_median_frames) {
    pg::PianoRolls r;
    r.onset = onset; r.frame = frame; r.frame_rate = frame_rate;
    if (offset) r.offset = *offset;
    if (velocity) r.velocity = *velocity;
    if (pedal_frame) r.pedal.frame = *pedal_frame;
    if (pedal_onset) r.pedal.onset = *pedal_onset;
    if (pedal_offset) r.pedal.offset = *pedal_offset;
    pg::RollDecodeOptions o{onset_threshold, frame_threshold, offset_threshold, {}};
    o.pedal.onset_threshold = o.pedal.frame_threshold = o.pedal.offset_threshold = pedal_threshold;
    o.pedal.min_seconds = pedal_min_seconds;
    o.pedal.median_frames = pedal_median_frames;
    return pg::rolls_to_performance(r, o);
  }, py::arg("onset"), py::arg("frame"), py::arg("frame_rate"), py::kw_only(), py::arg("offset") = py::none(),
  py::arg("velocity") = py::none(), py::arg("onset_threshold") = 0.5, py::arg("frame_threshold") = 0.5,
  py::arg("offset_threshold") = 0.5, py::arg("pedal_frame") = py::none(), py::arg("pedal_onset") = py::none(),
  py::arg("pedal_offset") = py::none(), py::arg("pedal_threshold") = 0.5,
  py::arg("pedal_min_seconds") = pg::PedalDecodeOptions{}.min_seconds,
  py::arg("pedal_median_frames") = pg::PedalDecodeOptions{}.median_frames,
  "Decodes (predicted) piano rolls into a Performance; with pedal_frame [frames] also its sustain pedal.");

  // ---- sustain pedal rolls (synth/pedal_roll.h)
  m.def("pedal_segments", [](const py::object& perf) { return pg::pedal_segments(as_performance(perf)); },
        py::arg("performance"), "The pedal's down segments [(start, end)] in seconds (value >= 0.5).");
  m.def("performance_to_pedal_rolls", [](const py::object& perf, double frame_rate, int64_t num_frames) {
    const auto r = pg::performance_to_pedal_rolls(as_performance(perf), frame_rate, num_frames);
    py::dict d;
    d["onset"] = r.onset; d["frame"] = r.frame; d["offset"] = r.offset;
    return d;
  }, py::arg("performance"), py::arg("frame_rate"), py::kw_only(), py::arg("num_frames") = -1,
  "Sustain pedal rolls {onset, frame, offset}, each float32 [frames] (1 where the pedal goes down / is down /\n"
  "comes up).");
  m.def("rolls_to_pedal", [](const Tensor& frame, double frame_rate, const std::optional<Tensor>& onset,
                             const std::optional<Tensor>& offset, double onset_threshold, double frame_threshold,
                             double offset_threshold, double min_seconds, int64_t median_frames) {
    pg::PedalRolls r;
    r.frame = frame; r.frame_rate = frame_rate;
    if (onset) r.onset = *onset;
    if (offset) r.offset = *offset;
    return pg::rolls_to_pedal(r, {onset_threshold, frame_threshold, offset_threshold, min_seconds, median_frames});
  }, py::arg("frame"), py::arg("frame_rate"), py::kw_only(), py::arg("onset") = py::none(),
  py::arg("offset") = py::none(), py::arg("onset_threshold") = 0.5, py::arg("frame_threshold") = 0.5,
  py::arg("offset_threshold") = 0.5, py::arg("min_seconds") = 0.04, py::arg("median_frames") = 1,
  "Decodes (predicted) pedal rolls [frames] into pedal points [PedalPoint(time, 1 down / 0 up)].");

  // ---- the piano
  py::class_<pg::PianoParams> piano(m, "Piano",
      "The differentiable piano: a preset of physical parameter tensors (tuning, inharmonicity, decay, hammer,\n"
      "loudness, knock, body and room impulse responses). Piano() is the concert-grand default.");
  piano
      .def(py::init([](double sample_rate, const py::object& dtype) {
             return pg::PianoParams::concert_grand(sample_rate, dtype.is_none() ? DType::f32 : dtype_from(dtype));
           }), py::arg("sample_rate") = 16000.0, py::arg("dtype") = py::none(),
           "Concert-grand defaults; the impulse responses are generated at `sample_rate`.")
      .def_static("load", [](const py::object& path) {
        const std::string p = fspath(path);
        py::gil_scoped_release rel;
        return pg::PianoParams::load(p);
      }, py::arg("path"), "Loads a safetensors preset (every name, shape and dtype validated).")
      .def("save", [](const pg::PianoParams& p, const py::object& path) {
        const std::string s = fspath(path);
        py::gil_scoped_release rel;
        p.save(s);
      }, py::arg("path"), "Saves the preset as safetensors (IR sample rate and frozen set in the metadata).")
      .def("parameters", &pg::PianoParams::parameters,
           "The non-frozen tensors, switched to requires_grad (for an optimizer).")
      .def("named_parameters", [](pg::PianoParams& p) {
        py::dict d;
        auto params = p.parameters();
        size_t j = 0;
        for (int i = 0; i < pg::kNumPianoParams; ++i)
          if (!p.frozen[static_cast<size_t>(i)]) d[pg::piano_param_name(i)] = params[j++];
        return d;
      }, "{name: tensor} of the non-frozen tensors, switched to requires_grad.")
      .def_property_readonly("tensors", [](const pg::PianoParams& p) {
        py::dict d;
        for (int i = 0; i < pg::kNumPianoParams; ++i) d[pg::piano_param_name(i)] = p[i];
        return d;
      }, "{name: tensor} of every tensor (shared, not copied).")
      .def("__getitem__", [](const pg::PianoParams& p, const std::string& name) { return p[param_id(name)]; })
      .def("__setitem__", [](pg::PianoParams& p, const std::string& name, const Tensor& t) { p[param_id(name)] = t; })
      .def("freeze", [](pg::PianoParams& p, const std::string& name, bool on) { p.freeze(param_id(name), on); },
           py::arg("name"), py::arg("on") = true, "Leaves a tensor out of parameters() (or puts it back).")
      .def_property_readonly("frozen", [](const pg::PianoParams& p) {
        std::vector<std::string> out;
        for (int i = 0; i < pg::kNumPianoParams; ++i)
          if (p.frozen[static_cast<size_t>(i)]) out.emplace_back(pg::piano_param_name(i));
        return out;
      })
      .def("zero_grad", &pg::PianoParams::zero_grad)
      .def("to", [](const pg::PianoParams& p, const py::object& dtype) { return p.to(dtype_from(dtype)); },
           py::arg("dtype"), "A deep copy in another dtype.")
      .def("copy", [](const pg::PianoParams& p) { return p.to(p.dtype()); }, "A deep copy (no shared storage).")
      .def_property_readonly("dtype", &pg::PianoParams::dtype)
      .def_readwrite("ir_sample_rate", &pg::PianoParams::ir_sample_rate, "Rate of the body/room impulse responses.")
      .def("set_default_irs", &pg::PianoParams::set_default_irs, py::arg("sample_rate"),
           "Replaces both impulse responses by the defaults generated at `sample_rate`.")
      .def("validate", &pg::PianoParams::validate)
      .def("render", [](pg::PianoParams& p, const py::object& perf, double sample_rate, const py::kwargs& kw) {
        const auto o = render_options_from(sample_rate, kw);
        const pg::Performance q = as_performance(perf);
        py::gil_scoped_release rel;
        return pg::render(p, q, o);
      }, py::arg("performance"), py::arg("sample_rate") = 16000.0,
      (std::string("Renders a Performance (or MIDI-like object) for duration + tail_seconds: a [samples] Tensor\n"
                   "whose gradients reach every parameter tensor.") + kRenderKw).c_str())
      .def("render_batch", [](pg::PianoParams& p, const py::iterable& perfs, double sample_rate, const py::kwargs& kw) {
        const auto o = render_options_from(sample_rate, kw);
        std::vector<pg::Performance> q;
        for (auto h : perfs) q.push_back(as_performance(h));
        py::gil_scoped_release rel;
        return pg::render_batch(p, q, o);
      }, py::arg("performances"), py::arg("sample_rate") = 16000.0,
      (std::string("Several performances -> [B, T] (T the longest).") + kRenderKw).c_str())
      .def("render_events", [](pg::PianoParams& p, const py::object& keys, const Tensor& onsets, const Tensor& offsets,
                               const Tensor& velocities, int64_t num_samples, const std::optional<Tensor>& pedal,
                               double sample_rate, bool dry, const py::kwargs& kw) {
        const auto o = render_options_from(sample_rate, kw);
        const Tensor k = py::isinstance<Tensor>(keys) ? keys.cast<Tensor>() : tensor_from_array(
            py::module_::import("numpy").attr("asarray")(keys, "int64"));
        const Tensor ped = pedal ? *pedal : Tensor();
        py::gil_scoped_release rel;
        return dry ? pg::render_events_dry(p, k, onsets, offsets, velocities, ped, num_samples, o)
                   : pg::render_events(p, k, onsets, offsets, velocities, ped, num_samples, o);
      }, py::arg("keys"), py::arg("onsets"), py::arg("offsets"), py::arg("velocities"), py::arg("num_samples"),
      py::kw_only(), py::arg("pedal") = py::none(), py::arg("sample_rate") = 16000.0, py::arg("dry") = false,
      (std::string("Differentiable render of N notes: keys int [N]; onsets, offsets (s), velocities (1..127) [N]\n"
                   "in the piano's dtype; pedal None, [num_samples] or frames at pedal_frame_rate. Gradients\n"
                   "reach onsets, offsets, velocities, pedal and the parameters. dry=True skips body/room.") +
       kRenderKw).c_str())
      .def("render_roll", [](pg::PianoParams& p, const Tensor& onset, const Tensor& velocity, const Tensor& gate,
                             double frame_rate, int64_t num_samples, double sample_rate, double onset_threshold,
                             bool dry, const py::kwargs& kw) {
        const auto o = render_options_from(sample_rate, kw);
        py::gil_scoped_release rel;
        return dry ? pg::render_roll_dry(p, onset, velocity, gate, frame_rate, num_samples, o, onset_threshold)
                   : pg::render_roll(p, onset, velocity, gate, frame_rate, num_samples, o, onset_threshold);
      }, py::arg("onset"), py::arg("velocity"), py::arg("gate"), py::arg("frame_rate"), py::arg("num_samples"),
      py::kw_only(), py::arg("sample_rate") = 16000.0, py::arg("onset_threshold") = pg::kRollOnsetThreshold,
      py::arg("dry") = false,
      (std::string("Differentiable render of soft piano rolls [F, 88] or [B, F, 88] (onset strength, velocity/127,\n"
                   "gate) at frame_rate: what a transcription model's sigmoid outputs drive.") + kRenderKw).c_str())
      .def("__repr__", [](const pg::PianoParams& p) {
        std::ostringstream s;
        s << "Piano(dtype=" << pg::dtype_name(p.dtype()) << ", ir_sample_rate=" << p.ir_sample_rate << ")";
        return s.str();
      });
  m.def("piano_param_names", [] {
    std::vector<std::string> v;
    for (int i = 0; i < pg::kNumPianoParams; ++i) v.emplace_back(pg::piano_param_name(i));
    return v;
  }, "Names of the Piano's tensors, in order.");
  m.def("stretched_et_hz", &pg::stretched_et_hz, py::arg("key"), "Stretched equal temperament f0 (Hz) of a key.");
  m.def("default_inharmonicity", &pg::default_inharmonicity, py::arg("key"), "Default inharmonicity B of a key.");
  m.def("piano_strings", &pg::piano_strings, py::arg("key"), "Unison strings of a key (1, 2 or 3).");
  // What the last render did on this thread (C++ last_*_render_stats): a dict, so new fields do not break
  // callers. On the CUDA route, host_seconds is the host's share and scan_samples the GPU scan's work.
  m.def("last_event_render_stats", [] {
    const pg::EventRenderStats s = pg::last_event_render_stats();
    py::dict d;
    d["notes"] = s.notes;
    d["modes"] = s.modes;
    d["trimmed"] = s.trimmed;
    d["host_seconds"] = s.host_seconds;
    d["host_gate_samples"] = s.host_gate_samples;
    d["scan_samples"] = s.scan_samples;
    return d;
  }, "What the last events render (render_events / render / render_batch) on this thread did: notes, modes,\n"
     "trimmed (partials below partial_floor), host_seconds and scan_samples (CUDA route: the host's share and\n"
     "the scan's samples per pass), host_gate_samples (damper-gate samples written on the host: 0 on CUDA).");
  m.def("last_roll_render_stats", [] {
    const pg::RollRenderStats s = pg::last_roll_render_stats();
    py::dict d;
    d["strikes"] = s.strikes;
    d["modes"] = s.modes;
    d["gate_samples"] = s.gate_samples;
    d["host_seconds"] = s.host_seconds;
    d["scan_samples"] = s.scan_samples;
    return d;
  }, "What the last render_roll on this thread did (summed over the batch): strikes, modes, gate_samples\n"
     "(evaluated on the host: 0 on CUDA), host_seconds and scan_samples (CUDA route).");
}

}  // namespace pgpy
