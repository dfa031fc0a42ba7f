// CTC loss and decoders (autodiff/ops/ctc.h, models/ctc_decode.h) as pg.ctc_loss, pg.ctc_greedy_decode and
// pg.ctc_beam_decode. The integer arguments take pg tensors, NumPy arrays or lists. The loss and the
// decoders run with the GIL released; a Python prior for the beam search re-acquires it for each call.
#include <pybind11/numpy.h>

#include <algorithm>
#include <string>

#include "autodiff/ops/ctc.h"
#include "bind_common.h"
#include "models/ctc_decode.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

// A pg tensor as is; anything NumPy can read as an integer array (lists included) as an int64 tensor.
Tensor index_tensor(const py::object& obj, const char* op, const char* arg) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  const py::array arr = py::module_::import("numpy").attr("asarray")(obj);
  const char kind = arr.dtype().kind();
  if (arr.size() > 0 && kind != 'i' && kind != 'u')
    throw pg::DTypeError(std::string(op) + ": " + arg + " must be int32 or int64, got dtype " +
                         std::string(py::str(arr.dtype())));
  return tensor_from_array(arr.attr("astype")("int64"));
}

pg::Reduction reduction_of(const std::string& r) {
  if (r == "mean") return pg::Reduction::mean;
  if (r == "sum") return pg::Reduction::sum;
  if (r == "none") return pg::Reduction::none;
  throw pg::ValueError("ctc_loss: reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

}  // namespace

void bind_ctc(py::module_& m) {
  m.def(
      "ctc_loss",
      [](const Tensor& logits, const py::object& targets, const py::object& input_lengths,
         const py::object& target_lengths, int64_t blank, const std::string& reduction, bool zero_infinity) {
        const Tensor tg = index_tensor(targets, "ctc_loss", "targets");
        const Tensor il = index_tensor(input_lengths, "ctc_loss", "input_lengths");
        const Tensor tl = index_tensor(target_lengths, "ctc_loss", "target_lengths");
        const pg::Reduction r = reduction_of(reduction);
        MaybeRelease rel(logits.defined() ? logits.numel() * (tg.defined() ? std::max<int64_t>(tg.numel(), 1) : 1) : 0);
        return pg::ctc_loss(logits, tg, il, tl, blank, r, zero_infinity);
      },
      py::arg("logits"), py::arg("targets"), py::arg("input_lengths"), py::arg("target_lengths"), py::arg("blank") = 0,
      py::arg("reduction") = "mean", py::arg("zero_infinity") = false,
      "Connectionist temporal classification loss, with log_softmax over the classes fused in.\n\n"
      "logits [B,T,C] float32/float64 (raw scores; log-probabilities work too); targets [B,S] int, padded;\n"
      "input_lengths, target_lengths [B] int. reduction 'none' gives [B] negative log-likelihoods, 'sum'\n"
      "their sum, 'mean' (torch's convention) the batch mean of loss_b / max(target_lengths[b], 1).\n"
      "A target that cannot fit its input frames has loss inf (0 with zero_infinity) and zero gradient.");

  m.def(
      "ctc_greedy_decode",
      [](const Tensor& logits, const py::object& input_lengths, int64_t blank) {
        const Tensor il = index_tensor(input_lengths, "ctc_greedy_decode", "input_lengths");
        MaybeRelease rel(logits.defined() ? logits.numel() : 0);
        return pg::ctc_greedy_decode(logits, il, blank);
      },
      py::arg("logits"), py::arg("input_lengths"), py::arg("blank") = 0,
      "Best-path decoding of logits [B,T,C]: argmax per frame over the first input_lengths[b] frames,\n"
      "repeats collapsed, blanks dropped. Returns one list of labels per sequence.");

  m.def(
      "ctc_beam_decode",
      [](const Tensor& logits, const std::optional<int64_t>& length, int beam, int64_t blank,
         const std::optional<py::function>& prior, float prior_weight, float prune_log_prob) {
        pg::CtcBeamOptions o;
        o.beam = beam;
        o.blank = blank;
        o.prior_weight = prior_weight;
        o.prune_log_prob = prune_log_prob;
        if (prior) {
          // The std::function holds a pointer, not the py::function: copying or destroying it never
          // touches a Python reference count, which would need the GIL the search has released.
          const py::function* fn = &*prior;
          o.prior = [fn](const std::vector<int64_t>& prefix, int64_t next) {
            py::gil_scoped_acquire gil;
            return (*fn)(prefix, next).cast<float>();
          };
        }
        py::gil_scoped_release release;
        return pg::ctc_beam_decode(logits, length ? *length : -1, o);
      },
      py::arg("logits"), py::arg("length") = py::none(), py::arg("beam") = 8, py::arg("blank") = 0,
      py::arg("prior") = py::none(), py::arg("prior_weight") = 0.0f, py::arg("prune_log_prob") = -20.0f,
      "CTC prefix beam search over one sequence, logits [T,C] (its first `length` frames; None: all).\n"
      "prior(prefix: list[int], next: int) -> float is an optional token-level log-prior (e.g. a language\n"
      "model), added as prior_weight * prior(prefix, next) when a prefix is extended by `next`.\n"
      "Returns up to `beam` (labels, log score) pairs, best first; with prior_weight 0 a score is\n"
      "ln p(labels | logits).");
}

}  // namespace pgpy
