// The interpolated modified Kneser–Ney n-gram LM (models/ngram_lm.h) as pg.NGramLM: a baseline for the motion
// language model. Token sequences arrive as lists of ints or 1-D integer NumPy arrays; they are converted
// (with the GIL) before fit/evaluate release it for the counting and scoring.
#include <pybind11/numpy.h>

#include <cstring>

#include "autodiff/errors.h"
#include "bind_common.h"
#include "models/ngram_lm.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

std::string fspath(const py::object& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

// One token sequence -> int32 vector. `seq` >= 0 names the sequence in a corpus. Tokens beyond int32 are
// reported here with the same message the C++ range check gives (they would otherwise wrap).
std::vector<int32_t> as_tokens(const py::handle& obj, const char* what, int64_t seq, int32_t vocab) {
  const std::string where = std::string(what) + (seq >= 0 ? ": sequence " + std::to_string(seq) : std::string());
  const py::array arr = py::module_::import("numpy").attr("asarray")(obj);
  if (arr.ndim() != 1)
    throw pg::ValueError(where + ": expected a 1-D sequence of int tokens, got an array of " +
                         std::to_string(arr.ndim()) + " dimensions");
  if (arr.size() == 0) return {};
  const char kind = arr.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw pg::DTypeError(where + ": expected integer tokens, got dtype " + std::string(py::str(arr.dtype())));
  const auto v = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
  const int64_t* p = v.data();
  std::vector<int32_t> out(size_t(v.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    if (p[i] < 0 || p[i] >= vocab)
      throw pg::ValueError(where + (seq >= 0 ? ", " : ": ") + "position " + std::to_string(i) + ": token " +
                           std::to_string(p[i]) + " outside [0, " + std::to_string(vocab) + ")");
    out[i] = int32_t(p[i]);
  }
  return out;
}

std::vector<std::vector<int32_t>> as_corpus(const py::handle& obj, const char* what, int32_t vocab) {
  if (py::isinstance<py::str>(obj) || !py::hasattr(obj, "__iter__"))
    throw pg::DTypeError(std::string(what) + ": expected a sequence of token sequences, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  std::vector<std::vector<int32_t>> out;
  int64_t s = 0;
  for (const py::handle item : obj) out.push_back(as_tokens(item, what, s++, vocab));
  return out;
}

}  // namespace

void bind_ngram(py::module_& m) {
  py::class_<pg::NGramLM>(m, "NGramLM",
                          "Interpolated modified Kneser-Ney n-gram language model over int tokens [0, vocab_size)\n"
                          "(Chen & Goodman 1998). Each sequence starts after an implicit BOS; no end symbol.\n"
                          "A context is a sequence prefix: with fewer than order-1 tokens the start is implied.")
      .def(py::init<int32_t, int>(), py::arg("vocab_size"), py::arg("order") = 5)
      .def(
          "fit",
          [](pg::NGramLM& self, const py::object& sequences) {
            const auto corpus = as_corpus(sequences, "NGramLM.fit", self.vocab_size());
            py::gil_scoped_release release;
            self.fit(corpus);
          },
          py::arg("sequences"),
          "Re-estimates the model from a list of token sequences (lists of ints or 1-D integer arrays).")
      .def(
          "log_prob",
          [](const pg::NGramLM& self, const py::object& context, int64_t token) {
            const auto ctx = as_tokens(context, "NGramLM.log_prob: context", -1, self.vocab_size());
            if (token < 0 || token >= self.vocab_size())
              throw pg::ValueError("NGramLM.log_prob: token " + std::to_string(token) + " outside [0, " +
                                   std::to_string(self.vocab_size()) + ")");
            return self.log_prob(ctx, int32_t(token));
          },
          py::arg("context"), py::arg("token"), "ln p(token | context), natural log.")
      .def(
          "next_distribution",
          [](const pg::NGramLM& self, const py::object& context) {
            const auto ctx = as_tokens(context, "NGramLM.next_distribution: context", -1, self.vocab_size());
            const std::vector<double> p = self.next_distribution(ctx);
            py::array_t<double> out(py::ssize_t(p.size()));
            std::memcpy(out.mutable_data(), p.data(), p.size() * sizeof(double));
            return out;
          },
          py::arg("context"), "p(. | context) over the vocabulary as a float64 array (sums to 1).")
      .def(
          "sequence_nll",
          [](const pg::NGramLM& self, const py::object& seq) {
            const auto s = as_tokens(seq, "NGramLM.sequence_nll", -1, self.vocab_size());
            py::gil_scoped_release release;
            return self.sequence_nll(s);
          },
          py::arg("sequence"), "Total negative log-likelihood of one sequence in nats (BOS context as in fit).")
      .def(
          "evaluate",
          [](const pg::NGramLM& self, const py::object& sequences) {
            const auto corpus = as_corpus(sequences, "NGramLM.evaluate", self.vocab_size());
            pg::NGramEval e;
            {
              py::gil_scoped_release release;
              e = self.evaluate(corpus);
            }
            py::dict d;
            d["total_nats"] = e.total_nats;
            d["tokens"] = e.tokens;
            d["nats_per_token"] = e.nats_per_token();
            return d;
          },
          py::arg("sequences"), "{total_nats, tokens, nats_per_token} over held-out sequences (NaN per token when empty).")
      .def(
          "discounts",
          [](const pg::NGramLM& self, int k) {
            const auto d = self.discounts(k);
            return py::make_tuple(d[0], d[1], d[2]);
          },
          py::arg("k"), "The modified-KN discounts (D1, D2, D3+) of order k.")
      .def("save", [](const pg::NGramLM& self, const py::object& path) { self.save(fspath(path)); }, py::arg("path"),
           "Writes the model atomically (versioned binary with a checksum).")
      .def_static("load", [](const py::object& path) { return pg::NGramLM::load(fspath(path)); }, py::arg("path"))
      .def_property_readonly("vocab_size", &pg::NGramLM::vocab_size)
      .def_property_readonly("order", &pg::NGramLM::order)
      .def_property_readonly("num_contexts", &pg::NGramLM::num_contexts)
      .def_property_readonly("num_ngrams", &pg::NGramLM::num_ngrams)
      .def("__repr__", [](const pg::NGramLM& self) {
        return "NGramLM(vocab_size=" + std::to_string(self.vocab_size()) + ", order=" + std::to_string(self.order()) +
               ", ngrams=" + std::to_string(self.num_ngrams()) + ")";
      });
}

}  // namespace pgpy
