// OMR metrics (models/omr_metrics.h): edit distance, corpus symbol error rate and note P/R/F1 in beats, each
// result a plain dict ready for JSON reports. The computations release the GIL.
#include <pybind11/numpy.h>

#include <cmath>
#include <limits>

#include "autodiff/errors.h"
#include "bind_common.h"
#include "models/omr_metrics.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

// Token sequences: integer ids are used as they are; if any token of the call is not an int (symbol
// strings such as "note-C4_quarter", or the characters of a str), every token is interned into ids that
// this call shares across its sequences, so equal tokens compare equal.
std::vector<std::vector<int64_t>> token_ids(const std::vector<py::handle>& seqs) {
  std::vector<std::vector<int64_t>> out;
  try {
    for (const auto& s : seqs) out.push_back(py::cast<std::vector<int64_t>>(s));
    return out;
  } catch (const py::cast_error&) {
    out.clear();
  }
  py::dict vocab;
  for (const auto& s : seqs) {
    std::vector<int64_t> ids;
    for (const auto& tok : py::iter(s)) {
      py::object id = vocab.attr("setdefault")(tok, py::int_(py::len(vocab)));
      ids.push_back(id.cast<int64_t>());
    }
    out.push_back(std::move(ids));
  }
  return out;
}

std::vector<py::handle> items(const py::handle& seq) {
  std::vector<py::handle> v;
  for (const auto& x : py::iter(seq)) v.push_back(x);
  return v;
}

int integral(double v, const std::string& where) {
  if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > std::numeric_limits<int>::max())
    throw pg::ValueError(where + " must be an integer, got " + std::to_string(v));
  return static_cast<int>(v);
}

int int_field(const py::handle& v, const std::string& where) {
  if (py::isinstance<py::bool_>(v) || !PyIndex_Check(v.ptr()))
    throw pg::ValueError(where + " must be an integer, got " + std::string(py::repr(v)));
  return v.cast<int>();
}

double float_field(const py::handle& v, const std::string& where) {
  if (py::isinstance<py::str>(v) || py::isinstance<py::bool_>(v) || v.is_none())
    throw pg::ValueError(where + " must be a number, got " + std::string(py::repr(v)));
  try {
    return v.cast<double>();
  } catch (const py::cast_error&) {
    throw pg::ValueError(where + " must be a number, got " + std::string(py::repr(v)));
  }
}

// Notes: an (N, 3) or (N, 4) array of [pitch, onset_beats, duration_beats(, staff)], or a sequence of
// mappings with keys pitch, onset_beats, duration_beats and optionally staff (default 0).
std::vector<pg::ScoreNote> notes_from(const py::handle& obj, const std::string& side) {
  std::vector<pg::ScoreNote> notes;
  const std::string op = "omr_note_f1: " + side;
  if (py::isinstance<py::array>(obj)) {
    auto a = py::module_::import("numpy").attr("asarray")(obj, "float64")
                 .cast<py::array_t<double, py::array::c_style | py::array::forcecast>>();
    if (a.ndim() != 2 || (a.shape(1) != 3 && a.shape(1) != 4))
      throw pg::ShapeError(op + ": expected an (N, 3) or (N, 4) array [pitch, onset_beats, duration_beats(, staff)], "
                           "got ndim " + std::to_string(a.ndim()) + (a.ndim() == 2 ? " with " + std::to_string(a.shape(1)) + " columns" : ""));
    const auto cols = static_cast<size_t>(a.shape(1));
    for (py::ssize_t i = 0; i < a.shape(0); ++i) {
      const double* r = a.data() + static_cast<size_t>(i) * cols;
      const std::string where = op + " note " + std::to_string(i);
      notes.push_back({integral(r[0], where + " pitch"), r[1], r[2], cols == 4 ? integral(r[3], where + " staff") : 0});
    }
    return notes;
  }
  if (py::isinstance<py::str>(obj) || py::isinstance<py::dict>(obj))
    throw pg::ValueError(op + ": expected a sequence of note dicts or an (N, 3/4) array");
  const py::object mapping = py::module_::import("collections.abc").attr("Mapping");
  int64_t i = 0;
  for (const auto& item : py::iter(obj)) {
    const std::string where = op + " note " + std::to_string(i++);
    if (!py::isinstance(item, mapping))
      throw pg::ValueError(where + ": expected a dict {pitch, onset_beats, duration_beats, staff}, got " +
                           std::string(py::repr(item)));
    auto get = [&](const char* k) -> py::object {
      if (!PyMapping_HasKeyString(item.ptr(), k)) return py::object();
      return py::reinterpret_borrow<py::object>(item)[k];
    };
    pg::ScoreNote n;
    for (const char* k : {"pitch", "onset_beats", "duration_beats"})
      if (!get(k)) throw pg::ValueError(where + ": missing '" + k + "'");
    n.pitch = int_field(get("pitch"), where + " pitch");
    n.onset_beats = float_field(get("onset_beats"), where + " onset_beats");
    n.duration_beats = float_field(get("duration_beats"), where + " duration_beats");
    if (py::object s = get("staff")) n.staff = int_field(s, where + " staff");
    notes.push_back(n);
  }
  return notes;
}

}  // namespace

void bind_omr_metrics(py::module_& m) {
  m.def(
      "edit_distance",
      [](const py::object& a, const py::object& b) {
        const auto ids = token_ids({a, b});
        py::gil_scoped_release rel;
        return pg::edit_distance(ids[0], ids[1]);
      },
      py::arg("a"), py::arg("b"),
      "Levenshtein distance between two token sequences (ints, or any hashable tokens such as strings).");
  m.def(
      "symbol_error_rate",
      [](const py::object& preds, const py::object& refs) {
        auto p = items(preds), r = items(refs);
        const size_t np_ = p.size();
        p.insert(p.end(), r.begin(), r.end());
        auto ids = token_ids(p);
        std::vector<std::vector<int64_t>> pi(std::make_move_iterator(ids.begin()),
                                             std::make_move_iterator(ids.begin() + static_cast<std::ptrdiff_t>(np_)));
        std::vector<std::vector<int64_t>> ri(std::make_move_iterator(ids.begin() + static_cast<std::ptrdiff_t>(np_)),
                                             std::make_move_iterator(ids.end()));
        pg::SerResult s;
        {
          py::gil_scoped_release rel;
          s = pg::symbol_error_rate(pi, ri);
        }
        py::dict d;
        d["ser"] = s.ser;
        d["edits"] = s.edits;
        d["ref_tokens"] = s.ref_tokens;
        return d;
      },
      py::arg("preds"), py::arg("refs"),
      "Corpus symbol error rate: {ser, edits, ref_tokens}, ser = summed edit distances / summed reference\n"
      "lengths. ValueError when the lists differ in length or the references hold no tokens.");
  m.def(
      "omr_note_f1",
      [](const py::object& ref, const py::object& est, bool with_duration, double onset_tol, double duration_tol,
         bool same_staff) {
        const auto r = notes_from(ref, "ref"), e = notes_from(est, "est");
        pg::NoteScores s;
        {
          py::gil_scoped_release rel;
          s = pg::omr_note_f1(r, e, with_duration, onset_tol, duration_tol, same_staff);
        }
        py::dict d;
        d["precision"] = s.precision;
        d["recall"] = s.recall;
        d["f1"] = s.f1;
        d["matched"] = s.matched;
        d["n_ref"] = s.n_ref;
        d["n_est"] = s.n_est;
        return d;
      },
      py::arg("ref"), py::arg("est"), py::arg("with_duration") = false, py::arg("onset_tol") = 1e-3,
      py::arg("duration_tol") = 1e-3, py::arg("same_staff") = false,
      "Note precision/recall/F1 in beats over a maximum one-to-one matching: equal pitch, |onset diff| <= onset_tol\n"
      "(and |duration diff| <= duration_tol with with_duration; equal staff with same_staff). Notes: dicts\n"
      "{pitch, onset_beats, duration_beats, staff (optional)} or an (N, 3/4) array of those columns.\n"
      "Returns {precision, recall, f1, matched, n_ref, n_est}.");
}

}  // namespace pgpy
