// The transcription model (models/transcriber.h, models/transcription_loss.h): pg.TranscriberConfig,
// pg.Transcriber (an nn.Module: parameters(), state_dict(), train()/eval(), pg.optim work on it),
// pg.TranscriberOutput, pg.transcription_loss. forward / transcribe / predict_rolls release the GIL
// (the engine never calls back into Python there).
#include <pybind11/numpy.h>

#include "bind_common.h"
#include "models/transcriber.h"
#include "models/transcription_loss.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

std::string fspath(const py::object& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

// Mono float32 samples from any 1-D array-like (copied only when not already C-contiguous float32).
py::array_t<float, py::array::c_style | py::array::forcecast> mono(const py::object& audio) {
  auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(audio);
  if (!a) throw py::type_error("Transcriber: audio must be a 1-D float array");
  if (a.ndim() != 1) throw pg::ShapeError("Transcriber: expected mono audio [N], got " + std::to_string(a.ndim()) + "-D");
  return a;
}

// A Tensor from a Tensor or an array-like.
Tensor as_tensor(const py::handle& obj) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  return tensor_from_array(obj);
}

pg::TranscriptionTargets targets_from(const py::object& obj) {
  if (py::isinstance<pg::TranscriptionTargets>(obj)) return obj.cast<pg::TranscriptionTargets>();
  pg::TranscriptionTargets t;
  auto get = [&](const char* name) -> Tensor {
    py::object v = py::none();
    if (py::isinstance<py::dict>(obj)) {
      py::dict d = obj.cast<py::dict>();
      if (d.contains(name)) v = d[name];
    } else if (py::hasattr(obj, name)) {
      v = obj.attr(name);
    }
    return v.is_none() ? Tensor() : as_tensor(v);
  };
  t.onset = get("onset");
  t.frame = get("frame");
  t.offset = get("offset");
  t.velocity = get("velocity");
  t.pedal_onset = get("pedal_onset");
  t.pedal_frame = get("pedal_frame");
  t.pedal_offset = get("pedal_offset");
  return t;
}

void set_config_kwargs(pg::TranscriberConfig& c, const py::kwargs& kw) {
  py::object obj = py::cast(&c, py::return_value_policy::reference);
  for (auto [k, v] : kw) {
    const std::string key = py::str(k);
    if (!py::hasattr(obj, key.c_str()) || key.rfind("_", 0) == 0 || key == "to_json" || key == "from_json" ||
        key == "validate")
      throw py::type_error("TranscriberConfig: unknown field '" + key + "'");
    obj.attr(key.c_str()) = v;
  }
  c.validate();
}

}  // namespace

void bind_transcriber(py::module_& m) {
  using C = pg::TranscriberConfig;
  py::class_<C>(m, "TranscriberConfig", "Hyper-parameters of pg.Transcriber (fields as attributes; JSON round trip).")
      .def(py::init([](const py::kwargs& kw) {
        C c;
        set_config_kwargs(c, kw);
        return c;
      }))
      .def_readwrite("sample_rate", &C::sample_rate)
      .def_readwrite("hop", &C::hop)
      .def_readwrite("n_fft", &C::n_fft)
      .def_readwrite("harmonics", &C::harmonics)
      .def_readwrite("conv_channels", &C::conv_channels)
      .def_readwrite("key_channels", &C::key_channels)
      .def_readwrite("key_kernel", &C::key_kernel)
      .def_readwrite("key_context_channels", &C::key_context_channels)
      .def_readwrite("temporal_channels", &C::temporal_channels)
      .def_readwrite("temporal_kernel", &C::temporal_kernel)
      .def_readwrite("temporal_dilations", &C::temporal_dilations)
      .def_readwrite("frame_channels", &C::frame_channels)
      .def_readwrite("pedal_channels", &C::pedal_channels)
      .def_readwrite("pedal_kernel", &C::pedal_kernel)
      .def_readwrite("pedal_dilations", &C::pedal_dilations)
      .def_readwrite("velocity_channels", &C::velocity_channels)
      .def_readwrite("velocity_readout", &C::velocity_readout)
      .def_readwrite("velocity_kernel", &C::velocity_kernel)
      .def_readwrite("velocity_dilations", &C::velocity_dilations)
      .def_readwrite("velocity_key_position", &C::velocity_key_position)
      .def_readwrite("refine_channels", &C::refine_channels)
      .def_readwrite("refine_readout", &C::refine_readout)
      .def_readwrite("refine_kernel", &C::refine_kernel)
      .def_readwrite("refine_dilations", &C::refine_dilations)
      .def_readwrite("log_floor", &C::log_floor)
      .def_readwrite("chunk_seconds", &C::chunk_seconds)
      .def_readwrite("context_seconds", &C::context_seconds)
      .def_readwrite("piece_loudness", &C::piece_loudness)
      .def_readwrite("seed", &C::seed)
      .def("validate", &C::validate)
      .def("to_json", &C::to_json)
      .def_static("from_json", &C::from_json, py::arg("json"))
      .def("__repr__", [](const C& c) { return "TranscriberConfig(" + c.to_json() + ")"; });

  auto optional_tensor = [](Tensor pg::TranscriberOutput::*field) {
    return [field](const pg::TranscriberOutput& o) -> py::object {
      return (o.*field).defined() ? py::cast(o.*field) : py::object(py::none());
    };
  };
  py::class_<pg::TranscriberOutput>(m, "TranscriberOutput",
                                    "Logits [B, F, 88] of each head; pedal_* [B, F] (None without a pedal head).")
      .def_readonly("onset", &pg::TranscriberOutput::onset)
      .def_readonly("frame", &pg::TranscriberOutput::frame)
      .def_readonly("offset", &pg::TranscriberOutput::offset)
      .def_readonly("velocity", &pg::TranscriberOutput::velocity)
      .def_property_readonly("pedal_onset", optional_tensor(&pg::TranscriberOutput::pedal_onset))
      .def_property_readonly("pedal_frame", optional_tensor(&pg::TranscriberOutput::pedal_frame))
      .def_property_readonly("pedal_offset", optional_tensor(&pg::TranscriberOutput::pedal_offset))
      .def("__iter__", [](const pg::TranscriberOutput& o) {
        return py::iter(py::make_tuple(o.onset, o.frame, o.offset, o.velocity));
      });

  py::class_<pg::TranscriptionTargets>(m, "TranscriptionTargets", "Target rolls [B, F, 88] of each head.")
      .def(py::init([](const py::object& onset, const py::object& frame, const py::object& offset,
                       const py::object& velocity) {
        pg::TranscriptionTargets t;
        t.onset = as_tensor(onset);
        t.frame = as_tensor(frame);
        if (!offset.is_none()) t.offset = as_tensor(offset);
        if (!velocity.is_none()) t.velocity = as_tensor(velocity);
        return t;
      }), py::arg("onset"), py::arg("frame"), py::arg("offset") = py::none(), py::arg("velocity") = py::none())
      .def_readwrite("onset", &pg::TranscriptionTargets::onset)
      .def_readwrite("frame", &pg::TranscriptionTargets::frame)
      .def_readwrite("offset", &pg::TranscriptionTargets::offset)
      .def_readwrite("velocity", &pg::TranscriptionTargets::velocity)
      .def_readwrite("pedal_onset", &pg::TranscriptionTargets::pedal_onset)
      .def_readwrite("pedal_frame", &pg::TranscriptionTargets::pedal_frame)
      .def_readwrite("pedal_offset", &pg::TranscriptionTargets::pedal_offset);

  using W = pg::LossWeights;
  py::class_<W>(m, "LossWeights", "Weights of the transcription loss's terms.")
      .def(py::init([](double onset, double frame, double offset, double velocity, double onset_pos_weight,
                       double offset_pos_weight, double pedal, double pedal_pos_weight, int64_t velocity_spread,
                       double velocity_relative) {
        return W{onset, frame, offset, velocity, onset_pos_weight, offset_pos_weight, pedal, pedal_pos_weight,
                 velocity_spread, velocity_relative};
      }), py::kw_only(), py::arg("onset") = 1.0, py::arg("frame") = 1.0, py::arg("offset") = 1.0,
      py::arg("velocity") = 1.0, py::arg("onset_pos_weight") = W{}.onset_pos_weight,
      py::arg("offset_pos_weight") = W{}.offset_pos_weight, py::arg("pedal") = W{}.pedal,
      py::arg("pedal_pos_weight") = W{}.pedal_pos_weight, py::arg("velocity_spread") = W{}.velocity_spread,
      py::arg("velocity_relative") = W{}.velocity_relative)
      .def_readwrite("onset", &W::onset)
      .def_readwrite("frame", &W::frame)
      .def_readwrite("offset", &W::offset)
      .def_readwrite("velocity", &W::velocity)
      .def_readwrite("onset_pos_weight", &W::onset_pos_weight)
      .def_readwrite("offset_pos_weight", &W::offset_pos_weight)
      .def_readwrite("pedal", &W::pedal)
      .def_readwrite("pedal_pos_weight", &W::pedal_pos_weight)
      .def_readwrite("velocity_spread", &W::velocity_spread)
      .def_readwrite("velocity_relative", &W::velocity_relative);

  py::class_<pg::TranscriptionLoss>(m, "TranscriptionLoss", "Scalar loss tensors: total and its parts.")
      .def_readonly("total", &pg::TranscriptionLoss::total)
      .def_readonly("onset", &pg::TranscriptionLoss::onset)
      .def_readonly("frame", &pg::TranscriptionLoss::frame)
      .def_readonly("offset", &pg::TranscriptionLoss::offset)
      .def_readonly("velocity", &pg::TranscriptionLoss::velocity)
      .def_readonly("pedal", &pg::TranscriptionLoss::pedal);

  m.def("transcription_loss", [](const pg::TranscriberOutput& out, const py::object& targets,
                                 const std::optional<W>& weights) {
    return pg::transcription_loss(out, targets_from(targets), weights ? *weights : W{});
  }, py::arg("output"), py::arg("targets"), py::arg("weights") = py::none(),
  "BCE-with-logits on onset/frame/offset (+ pos weights), velocity MSE on onset cells. targets: a dict\n"
  "{'onset','frame','offset','velocity'} of tensors/arrays [B, F, 88] or a TranscriptionTargets.");

  auto nn_mod = m.attr("nn");
  (void)nn_mod;  // pg.nn.Module must be bound first (it is the base class)
  py::classh<pg::Transcriber, pg::nn::Module>(m, "Transcriber", R"doc(
Audio -> performance transcription model (models/transcriber.h): an nn.Module predicting onset, frame,
offset and velocity logits [B, F, 88] at 50 frames per second from 16 kHz audio [B, N] or [N].
On the GPU: model.to("cuda") (or .cuda()) moves it in place; audio on the CPU follows the model's
device, and predict_rolls / transcribe run each chunk there and return host results.)doc")
      .def(py::init([](const std::optional<C>& config) {
        return std::make_shared<pg::Transcriber>(config ? *config : C{});
      }), py::arg("config") = py::none())
      .def("forward", [](pg::Transcriber& self, const py::object& audio, const py::object& reference) {
        Tensor a = as_tensor(audio);
        Tensor r = reference.is_none() ? Tensor() : as_tensor(reference);
        py::gil_scoped_release rel;
        return self.forward_all(a, r);
      }, py::arg("audio"), py::arg("reference") = py::none(),
      "-> TranscriberOutput (logits [B, F, 88] per head). reference: optional loudness reference [B] per\n"
      "example (loudness_reference of its piece), else each example's own peak.")
      .def("loudness_reference", [](const pg::Transcriber& self, const py::object& audio, double sr) {
        auto a = mono(audio);
        py::gil_scoped_release rel;
        return self.loudness_reference(a.data(), static_cast<int64_t>(a.size()), sr);
      }, py::arg("audio"), py::arg("sr"),
      "The peak of the front end's log spectrogram over a whole recording: its loudness reference.")
      .def("num_frames", &pg::Transcriber::num_frames, py::arg("num_samples"))
      .def_property_readonly("frame_rate", &pg::Transcriber::frame_rate)
      .def_property_readonly("config", [](const pg::Transcriber& t) { return t.config(); })
      .def("parameter_count", &pg::Transcriber::parameter_count)
      .def("save", [](const pg::Transcriber& self, const py::object& path) { self.save(fspath(path)); },
           py::arg("path"), "Safetensors checkpoint with the config JSON in its metadata (atomic).")
      .def_static("load", [](const py::object& path) { return pg::Transcriber::load(fspath(path)); },
                  py::arg("path"), "A Transcriber built from a checkpoint's config, with its weights.")
      .def("predict_rolls", [](pg::Transcriber& self, const py::object& audio, double sr) {
        auto a = mono(audio);
        pg::PianoRolls r;
        {
          py::gil_scoped_release rel;
          r = self.predict_rolls(a.data(), static_cast<int64_t>(a.size()), sr);
        }
        py::dict d;
        d["onset"] = tensor_to_array(py::cast(r.onset));
        d["frame"] = tensor_to_array(py::cast(r.frame));
        d["offset"] = tensor_to_array(py::cast(r.offset));
        d["velocity"] = tensor_to_array(py::cast(r.velocity));
        if (r.pedal.frame.defined()) {
          d["pedal_onset"] = tensor_to_array(py::cast(r.pedal.onset));
          d["pedal_frame"] = tensor_to_array(py::cast(r.pedal.frame));
          d["pedal_offset"] = tensor_to_array(py::cast(r.pedal.offset));
        }
        return d;
      }, py::arg("audio"), py::arg("sr"),
      "Probabilities {onset, frame, offset, velocity} as numpy float32 [F, 88] (chunked, no gradient); with a\n"
      "pedal head also {pedal_onset, pedal_frame, pedal_offset} [F].")
      .def("transcribe", [](pg::Transcriber& self, const py::object& audio, double sr, double onset_threshold,
                            double frame_threshold, double offset_threshold, double pedal_threshold,
                            double pedal_min_seconds, int64_t pedal_median_frames) {
        auto a = mono(audio);
        py::gil_scoped_release rel;
        pg::RollDecodeOptions o{onset_threshold, frame_threshold, offset_threshold, {}};
        o.pedal.onset_threshold = o.pedal.frame_threshold = o.pedal.offset_threshold = pedal_threshold;
        o.pedal.min_seconds = pedal_min_seconds;
        o.pedal.median_frames = pedal_median_frames;
        return self.transcribe(a.data(), static_cast<int64_t>(a.size()), sr, o);
      }, py::arg("audio"), py::arg("sr"), py::arg("onset_threshold") = 0.5, py::arg("frame_threshold") = 0.5,
      py::arg("offset_threshold") = 0.5, py::arg("pedal_threshold") = 0.5,
      py::arg("pedal_min_seconds") = pg::PedalDecodeOptions{}.min_seconds,
      py::arg("pedal_median_frames") = pg::PedalDecodeOptions{}.median_frames,
      "Audio (resampled when sr differs) -> decoded pg.Performance (with its sustain pedal when the model\n"
      "has a pedal head).")
      .def_property_readonly("has_pedal", &pg::Transcriber::has_pedal);
}

}  // namespace pgpy
