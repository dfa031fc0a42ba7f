// Transcription metrics (models/transcription_metrics.h): note P/R/F1 with onsets, offsets and velocity,
// frame P/R/F1, each as a plain dict so results go straight into JSON reports. The computation releases
// the GIL: an evaluation scores many excerpts, possibly from worker threads.
#include "bind_common.h"
#include "models/transcription_metrics.h"
#include "synth/piano_roll.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

// Anything pg.Performance(...) accepts (a pg.Performance, an object with .notes/.pedal, a list of notes):
// the registered constructor does the conversion, so the accepted forms stay those of bind_synth.cpp.
pg::Performance as_perf(const py::handle& h) {
  if (py::isinstance<pg::Performance>(h)) return h.cast<pg::Performance>();
  return py::type::of<pg::Performance>()(h).cast<pg::Performance>();
}

// Note metrics carry mir_eval's average overlap ratio; frame metrics have none (and JSON has no NaN).
py::dict prf_dict(const pg::PRF& m, bool with_overlap) {
  py::dict d;
  d["precision"] = m.precision;
  d["recall"] = m.recall;
  d["f1"] = m.f1;
  d["n_ref"] = m.n_ref;
  d["n_est"] = m.n_est;
  d["n_matched"] = m.n_matched;
  if (with_overlap) d["overlap"] = m.overlap;
  return d;
}

pg::NoteMetricOptions note_options(double onset_tolerance, double offset_ratio, double offset_min_tolerance,
                                   double velocity_tolerance, bool pedal_extend) {
  pg::NoteMetricOptions o;
  o.onset_tolerance = onset_tolerance;
  o.offset_ratio = offset_ratio;
  o.offset_min_tolerance = offset_min_tolerance;
  o.velocity_tolerance = velocity_tolerance;
  o.pedal_extend = pedal_extend;
  return o;
}

}  // namespace

void bind_metrics(py::module_& m) {
  m.def(
      "note_metrics",
      [](const py::object& ref, const py::object& est, bool with_offset, bool with_velocity, double onset_tolerance,
         double offset_ratio, double offset_min_tolerance, double velocity_tolerance, bool pedal_extend) {
        const pg::Performance r = as_perf(ref), e = as_perf(est);
        const auto o = note_options(onset_tolerance, offset_ratio, offset_min_tolerance, velocity_tolerance, pedal_extend);
        pg::PRF out;
        {
          py::gil_scoped_release release;
          out = pg::note_metrics(r, e, o, with_offset, with_velocity);
        }
        return prf_dict(out, true);
      },
      py::arg("ref"), py::arg("est"), py::arg("with_offset") = false, py::arg("with_velocity") = false,
      py::arg("onset_tolerance") = 0.05, py::arg("offset_ratio") = 0.2, py::arg("offset_min_tolerance") = 0.05,
      py::arg("velocity_tolerance") = 0.1, py::arg("pedal_extend") = true,
      "Note precision/recall/F1 as mir_eval.transcription (with_velocity: mir_eval.transcription_velocity),\n"
      "comparing sounding (pedal-extended) notes: {precision, recall, f1, n_ref, n_est, n_matched, overlap}.");

  m.def(
      "frame_metrics",
      [](const py::object& ref, const py::object& est, double frame_rate, bool pedal_extend) {
        const pg::Performance r = as_perf(ref), e = as_perf(est);
        pg::PRF out;
        {
          py::gil_scoped_release release;
          out = pg::frame_metrics(r, e, frame_rate, pedal_extend);
        }
        return prf_dict(out, false);
      },
      py::arg("ref"), py::arg("est"), py::arg("frame_rate") = 50.0, py::arg("pedal_extend") = true,
      "Frame precision/recall/F1 over all (frame, key) cells of the frame rolls: {precision, recall, f1,\n"
      "n_ref, n_est, n_matched} (counts are active cells).");

  m.def(
      "transcription_metrics",
      [](const py::object& ref, const py::object& est, double frame_rate, double onset_tolerance, double offset_ratio,
         double offset_min_tolerance, double velocity_tolerance, bool pedal_extend) {
        const pg::Performance r = as_perf(ref), e = as_perf(est);
        const auto o = note_options(onset_tolerance, offset_ratio, offset_min_tolerance, velocity_tolerance, pedal_extend);
        pg::TranscriptionMetrics t;
        {
          py::gil_scoped_release release;
          t = pg::transcription_metrics(r, e, frame_rate, o);
        }
        py::dict d;
        d["note"] = prf_dict(t.note, true);
        d["note_offset"] = prf_dict(t.note_offset, true);
        d["note_offset_velocity"] = prf_dict(t.note_offset_velocity, true);
        d["frame"] = prf_dict(t.frame, false);
        d["pedal"] = prf_dict(t.pedal, true);
        d["pedal_onset"] = prf_dict(t.pedal_onset, true);
        return d;
      },
      py::arg("ref"), py::arg("est"), py::arg("frame_rate") = 50.0, py::arg("onset_tolerance") = 0.05,
      py::arg("offset_ratio") = 0.2, py::arg("offset_min_tolerance") = 0.05, py::arg("velocity_tolerance") = 0.1,
      py::arg("pedal_extend") = true,
      "Every metric kind: {\"note\", \"note_offset\", \"note_offset_velocity\", \"frame\", \"pedal\",\n"
      "\"pedal_onset\"} -> dicts"
      "as note_metrics / frame_metrics / pedal_metrics return.");

  m.def(
      "pedal_metrics",
      [](const py::object& ref, const py::object& est, double onset_tolerance, double offset_ratio,
         double offset_min_tolerance, bool with_offset) {
        const pg::Performance r = as_perf(ref), e = as_perf(est);
        const auto o = note_options(onset_tolerance, offset_ratio, offset_min_tolerance, 0.1, false);
        pg::PRF out;
        {
          py::gil_scoped_release release;
          out = pg::pedal_metrics(r, e, o, with_offset);
        }
        return prf_dict(out, true);
      },
      py::arg("ref"), py::arg("est"), py::arg("onset_tolerance") = 0.05, py::arg("offset_ratio") = 0.2,
      py::arg("offset_min_tolerance") = 0.05, py::arg("with_offset") = true,
      "Sustain pedal event P/R/F1: each down segment (value >= 0.5) matched like a note with its offset\n"
      "(Kong et al. 2021's pedal metric), or by its press alone with with_offset=False:\n"
      "{precision, recall, f1, n_ref, n_est, n_matched, overlap}.");

  m.def(
      "sounding_notes",
      [](const py::object& perf, bool pedal_extend) {
        const pg::Performance p = as_perf(perf);
        return pg::sounding_notes(p, pedal_extend);
      },
      py::arg("performance"), py::arg("pedal_extend") = true,
      "The notes as they sound, sorted, each offset replaced by its sounding end (pedal extension,\n"
      "re-strikes cut) — what the note metrics compare and the frame rolls show.");
}

}  // namespace pgpy
