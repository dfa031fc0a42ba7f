// The motion language models (models/motion_lm.h, motion_gru.h, motion_sampling.h, motion_scoring.h):
// pg.MotionLMConfig, pg.MotionLM and pg.MotionGRUConfig, pg.MotionGRU (nn.Modules: parameters(), train()/eval(),
// pg.optim work on them), pg.generate and pg.token_nll. The long calls release the GIL.
#include <pybind11/numpy.h>

#include "bind_common.h"
#include "models/motion_gru.h"
#include "models/motion_lm.h"
#include "models/motion_sampling.h"
#include "models/motion_scoring.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

std::string fspath(const py::object& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

std::vector<int32_t> token_list(const py::handle& obj) {
  auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!a || a.ndim() != 1) throw pg::ShapeError("tokens: expected a 1-D integer sequence");
  std::vector<int32_t> out(static_cast<size_t>(a.size()));
  for (py::ssize_t i = 0; i < a.size(); ++i) {
    const int64_t v = a.data()[i];
    if (v < 0 || v > INT32_MAX) throw pg::ValueError("tokens: " + std::to_string(v) + " at position " + std::to_string(i) + " is not a token id");
    out[static_cast<size_t>(i)] = static_cast<int32_t>(v);
  }
  return out;
}

py::array_t<float> to_array(const std::vector<float>& v) {
  py::array_t<float> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

Tensor as_tensor(const py::handle& obj) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  return tensor_from_array(obj);
}

// Config fields from keyword arguments, by name: an unknown field is a TypeError.
template <class C>
C config_from(const py::kwargs& kw, const char* what) {
  C c;
  py::object obj = py::cast(&c, py::return_value_policy::reference);
  for (auto [k, v] : kw) {
    const std::string key = py::str(k);
    if (!py::hasattr(obj, key.c_str()) || key.rfind("_", 0) == 0 || key == "to_json" || key == "from_json" ||
        key == "validate" || key == "matching" || key == "parameter_count")
      throw py::type_error(std::string(what) + ": unknown field '" + key + "'");
    obj.attr(key.c_str()) = v;
  }
  c.validate();
  return c;
}

}  // namespace

void bind_motion_lm(py::module_& m) {
  using C = pg::MotionLMConfig;
  py::class_<C>(m, "MotionLMConfig", "Hyper-parameters of pg.MotionLM (fields as attributes; JSON round trip).")
      .def(py::init([](const py::kwargs& kw) { return config_from<C>(kw, "MotionLMConfig"); }))
      .def_readwrite("vocab_size", &C::vocab_size)
      .def_readwrite("d_model", &C::d_model)
      .def_readwrite("n_layers", &C::n_layers)
      .def_readwrite("n_heads", &C::n_heads)
      .def_readwrite("d_ff", &C::d_ff)
      .def_readwrite("context", &C::context)
      .def_readwrite("dropout", &C::dropout)
      .def_readwrite("rope_base", &C::rope_base)
      .def_readwrite("seed", &C::seed)
      .def_readwrite("state_features", &C::state_features)
      .def("validate", &C::validate)
      .def("to_json", &C::to_json)
      .def_static("from_json", &C::from_json, py::arg("json"))
      .def("__repr__", [](const C& c) { return "MotionLMConfig(" + c.to_json() + ")"; });

  using G = pg::MotionGRUConfig;
  py::class_<G>(m, "MotionGRUConfig", "Hyper-parameters of pg.MotionGRU, the recurrent baseline.")
      .def(py::init([](const py::kwargs& kw) { return config_from<G>(kw, "MotionGRUConfig"); }))
      .def_readwrite("vocab_size", &G::vocab_size)
      .def_readwrite("d_embed", &G::d_embed)
      .def_readwrite("hidden", &G::hidden)
      .def_readwrite("n_layers", &G::n_layers)
      .def_readwrite("dropout", &G::dropout)
      .def_readwrite("seed", &G::seed)
      .def("validate", &G::validate)
      .def("to_json", &G::to_json)
      .def("parameter_count", &G::parameter_count)
      .def_static("from_json", &G::from_json, py::arg("json"))
      .def_static("matching", &G::matching, py::arg("lm"), py::arg("target_parameters"), py::arg("n_layers") = 2,
                  "The GRU config whose parameter count is closest to target_parameters (same vocabulary and width).")
      .def("__repr__", [](const G& c) { return "MotionGRUConfig(" + c.to_json() + ")"; });

  py::classh<pg::MotionLM, pg::nn::Module>(m, "MotionLM", R"doc(
The motion language model LM^M (models/motion_lm.h): a decoder-only Transformer over pg.MotionTokenizer
tokens with rotary positions and the fused causal attention; an nn.Module.)doc")
      .def(py::init([](const std::optional<C>& config) { return std::make_shared<pg::MotionLM>(config ? *config : C{}); }),
           py::arg("config") = py::none())
      .def("forward", [](pg::MotionLM& self, const py::object& tokens) {
        Tensor t = as_tensor(tokens);
        py::gil_scoped_release rel;
        return self.forward(t);
      }, py::arg("tokens"), "tokens [B, T] (int) -> logits [B, T, V].")
      .def("loss", [](pg::MotionLM& self, const py::object& tokens, int64_t ignore) {
        Tensor t = as_tensor(tokens);
        py::gil_scoped_release rel;
        return self.loss(t, ignore);
      }, py::arg("tokens"), py::arg("ignore") = 0,
      "Mean next-token cross-entropy (nats) over crops [B, T + 1]; targets equal to `ignore` (PAD) skipped.")
      .def_property_readonly("config", [](const pg::MotionLM& s) { return s.config(); })
      .def("parameter_count", [](const pg::MotionLM& s) { return s.num_parameters(); })
      .def_property("dropout_calls", &pg::MotionLM::dropout_calls, &pg::MotionLM::set_dropout_calls,
                    "Dropout calls so far (masks are seeded from config.seed and this count; saved by trainers).")
      .def("save", [](const pg::MotionLM& self, const py::object& path) { self.save(fspath(path)); }, py::arg("path"))
      .def_static("load", [](const py::object& path) { return pg::MotionLM::load(fspath(path)); }, py::arg("path"));

  py::classh<pg::MotionGRU, pg::nn::Module>(m, "MotionGRU", "The GRU baseline of the motion LM (models/motion_gru.h).")
      .def(py::init([](const std::optional<G>& config) { return std::make_shared<pg::MotionGRU>(config ? *config : G{}); }),
           py::arg("config") = py::none())
      .def("forward", [](pg::MotionGRU& self, const py::object& tokens) {
        Tensor t = as_tensor(tokens);
        py::gil_scoped_release rel;
        return self.forward(t);
      }, py::arg("tokens"))
      .def("loss", [](pg::MotionGRU& self, const py::object& tokens, int64_t ignore) {
        Tensor t = as_tensor(tokens);
        py::gil_scoped_release rel;
        return self.loss(t, ignore);
      }, py::arg("tokens"), py::arg("ignore") = 0)
      .def_property_readonly("config", [](const pg::MotionGRU& s) { return s.config(); })
      .def("parameter_count", [](const pg::MotionGRU& s) { return s.num_parameters(); })
      .def_property("dropout_calls", &pg::MotionGRU::dropout_calls, &pg::MotionGRU::set_dropout_calls,
                    "Dropout calls so far (masks are seeded from config.seed and this count; saved by trainers).")
      .def("save", [](const pg::MotionGRU& self, const py::object& path) { self.save(fspath(path)); }, py::arg("path"))
      .def_static("load", [](const py::object& path) { return pg::MotionGRU::load(fspath(path)); }, py::arg("path"));

  m.def("motion_state_features", [](const py::object& tokens) {
    const auto t = token_list(tokens);
    const pg::MotionTokenizer tok;
    std::vector<int64_t> t64(t.begin(), t.end());
    py::array_t<float> out({static_cast<py::ssize_t>(t.size()), static_cast<py::ssize_t>(pg::kMotionStateFeatures)});
    pg::MotionState state;
    pg::window_state_features(tok, t64.data(), t64.size(), state, out.mutable_data());
    return out;
  }, py::arg("tokens"),
  "The piano's state after each token of a sequence that starts the piece (models/motion_state.h), float32\n"
  "[n, 227]: keys sounding, how long each has been held (exp(-age / 0.5 s)), the sustain pedal, the time\n"
  "since the last note-on, the current velocity bin and the time since the last pedal change (one-hot).\n"
  "What pg.MotionLM reads with state_features.");
  m.def("token_nll", [](pg::MotionLM& model, const py::object& tokens) {
    const auto t = token_list(tokens);
    std::vector<float> r;
    {
      py::gil_scoped_release rel;
      r = pg::token_nll(model, t);
    }
    return to_array(r);
  }, py::arg("model"), py::arg("tokens"),
  "-log p(tokens[i+1] | tokens[..i]) for every i (nats, float32, n - 1 values): windows of the context at\n"
  "a stride of context / 2.");
  m.def("token_nll", [](pg::MotionGRU& model, const py::object& tokens) {
    const auto t = token_list(tokens);
    std::vector<float> r;
    {
      py::gil_scoped_release rel;
      r = pg::token_nll(model, t);
    }
    return to_array(r);
  }, py::arg("model"), py::arg("tokens"));

  m.def("generate_tokens", [](pg::MotionLM& model, const pg::MotionTokenizer& tok, const py::list& prompts,
                              double temperature, int64_t top_k, double top_p, uint64_t seed, int64_t max_new_tokens,
                              double max_seconds, bool use_cache, int64_t min_new_tokens, bool piano_grammar) {
    std::vector<std::vector<int32_t>> ps;
    for (const auto& p : prompts) ps.push_back(token_list(p));
    pg::SamplingOptions o{temperature, top_k, top_p, seed, max_new_tokens, max_seconds, use_cache, min_new_tokens,
                          piano_grammar};
    std::vector<std::vector<int32_t>> out;
    {
      py::gil_scoped_release rel;
      out = pg::generate(model, tok, ps, o);
    }
    py::list res;
    for (const auto& s : out) {
      py::array_t<int32_t> a(static_cast<py::ssize_t>(s.size()));
      std::copy(s.begin(), s.end(), a.mutable_data());
      res.append(a);
    }
    return res;
  }, py::arg("model"), py::arg("tokenizer"), py::arg("prompts"), py::kw_only(), py::arg("temperature") = 1.0,
  py::arg("top_k") = 0, py::arg("top_p") = 1.0, py::arg("seed") = 0, py::arg("max_new_tokens") = 2048,
  py::arg("max_seconds") = 0.0, py::arg("use_cache") = true, py::arg("min_new_tokens") = 0,
  py::arg("piano_grammar") = true,
  "Continuations (int32 token arrays, without the prompts) of each prompt (token sequences; [] = BOS),\n"
  "sampled with temperature / top-k / top-p, seeded; a sequence ends at EOS, max_seconds of music or\n"
  "max_new_tokens. piano_grammar: NOTE_OFF only for sounding keys, NOTE_ON only for silent ones (see\n"
  "models/motion_sampling.h for these rules, prompt lengths and the context).");
}

}  // namespace pgpy
