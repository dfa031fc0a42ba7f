// pianograd.nn: Module (subclassable from Python through a trampoline), the layers, and nn.init.
// Holders are pybind11's smart_holder (py::classh) so a Python subclass handed to C++ as a
// shared_ptr (a child of a Sequential) keeps its Python half alive.
#include "autodiff/nn/nn.h"
#include "bind_common.h"

namespace pgpy {
namespace pg = pianograd;
namespace nn = pianograd::nn;
namespace {

class PyModule : public nn::Module, public py::trampoline_self_life_support {
 public:
  using nn::Module::Module;
  Tensor forward(const Tensor& x) override { PYBIND11_OVERRIDE(Tensor, nn::Module, forward, x); }
  void train(bool on) override { PYBIND11_OVERRIDE(void, nn::Module, train, on); }
  // The Python class name, so repr() and error messages name the user's class.
  std::string type_name() const override {
    py::gil_scoped_acquire gil;
    const auto* base = static_cast<const nn::Module*>(this);
    if (py::function o = py::get_override(base, "type_name")) return o().cast<std::string>();
    return py::type::of(py::cast(base)).attr("__name__").cast<std::string>();
  }
};

std::string path_str(const py::object& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

}  // namespace

void bind_nn(py::module_& top) {
  py::module_ m = top.def_submodule("nn", "Neural-network modules (the shape of torch.nn).");
  py::classh<nn::Module, PyModule>(m, "Module", R"doc(
A named tree of parameters, buffers and child modules. Subclass it in Python:

    class MLP(pg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = pg.nn.Linear(2, 16)   # child modules register on assignment
            self.fc2 = pg.nn.Linear(16, 1)
        def forward(self, x):
            return self.fc2(pg.relu(self.fc1(x)))

Leaf tensors that require grad register as parameters on assignment too; register_parameter /
register_buffer / register_module do it explicitly.)doc")
      .def(py::init<>())
      .def("forward", &nn::Module::forward, py::arg("x"), "The computation; override in subclasses.")
      .def("__call__", [](const py::object& self, const py::args& args, const py::kwargs& kwargs) {
        return self.attr("forward")(*args, **kwargs);
      }, "Calls forward(*args, **kwargs).")
      .def("type_name", &nn::Module::type_name)
      .def("register_parameter", &nn::Module::register_parameter, py::arg("name"), py::arg("value"),
           "Registers a floating tensor as a trained parameter (made to require grad); returns it.")
      .def("register_buffer", &nn::Module::register_buffer, py::arg("name"), py::arg("value"),
           "Registers a tensor saved in the state dict but not trained; returns it.")
      .def("register_module", [](nn::Module& self, const std::string& name, std::shared_ptr<nn::Module> child) {
        return self.register_module(name, std::move(child));
      }, py::arg("name"), py::arg("module"), "Registers a child module; returns it.")
      .def("named_parameters", &nn::Module::named_parameters, "[(dotted name, tensor)], depth-first.")
      .def("parameters", &nn::Module::parameters, "Every parameter, depth-first in registration order.")
      .def("named_buffers", &nn::Module::named_buffers)
      .def("named_children", &nn::Module::named_children)
      .def("children", [](const nn::Module& self) {
        std::vector<std::shared_ptr<nn::Module>> out;
        for (auto& [n, c] : self.named_children()) out.push_back(c);
        return out;
      })
      .def("child", &nn::Module::child, py::arg("name"), "The child registered under name (IndexError if none).")
      .def("num_parameters", &nn::Module::num_parameters, "Total number of parameter elements.")
      .def("train", [](nn::Module& self, bool on) { self.train(on); return &self; }, py::arg("mode") = true,
           py::return_value_policy::reference, "Sets training mode recursively; returns self.")
      .def("eval", [](nn::Module& self) { self.eval(); return &self; }, py::return_value_policy::reference,
           "Sets evaluation mode recursively; returns self.")
      .def_property_readonly("training", &nn::Module::is_training)
      .def("zero_grad", &nn::Module::zero_grad, "Drops every parameter's gradient.")
      .def("state_dict", &nn::Module::state_dict, "{dotted name: tensor} aliasing the live parameters and buffers.")
      .def("load_state_dict", &nn::Module::load_state_dict, py::arg("state"), py::arg("strict") = true,
           "Copies values into the live tensors (ValueError on missing/unexpected keys when strict).")
      .def("save", [](const nn::Module& self, const py::object& path, const std::map<std::string, std::string>& meta) {
        self.save(path_str(path), meta);
      }, py::arg("path"), py::arg("metadata") = std::map<std::string, std::string>{},
      "Writes state_dict() as a safetensors file (atomically).")
      .def("load", [](nn::Module& self, const py::object& path, bool strict) { self.load(path_str(path), strict); },
           py::arg("path"), py::arg("strict") = true, "Loads a safetensors checkpoint written by save().")
      .def("to", [](nn::Module& self, const py::object& device) -> nn::Module& {
        const pg::Device d = py::isinstance<pg::Device>(device) ? device.cast<pg::Device>()
                                                                : pg::parse_device(py::str(device).cast<std::string>());
        return self.to(d);
      }, py::arg("device"), py::return_value_policy::reference, R"doc(
Moves every parameter and buffer to `device` ("cpu", "cuda", "cuda:N") in place and returns the
module. Parameter objects keep their identity (only their memory moves), so an optimizer built
before or after keeps working: its state follows the parameters at the next step. Raises
RuntimeError (DeviceError) and leaves the module unchanged when the device is not available.)doc")
      .def("cuda", [](nn::Module& self, int index) -> nn::Module& { return self.cuda(index); }, py::arg("index") = 0,
           py::return_value_policy::reference, "to('cuda:index').")
      .def("cpu", [](nn::Module& self) -> nn::Module& { return self.cpu(); }, py::return_value_policy::reference,
           "to('cpu').")
      .def_property_readonly("device", &nn::Module::device, "The device of the first parameter (cpu without any).")
      .def("__repr__", &nn::Module::repr);

  py::classh<nn::Linear, nn::Module>(m, "Linear", "y = x W^T + b; W [out, in] ~ U(+-1/sqrt(in)) as PyTorch.")
      .def(py::init([](int64_t in, int64_t out, bool bias, const py::object& dtype) {
        return std::make_shared<nn::Linear>(in, out, bias, dtype_from(dtype));
      }), py::arg("in_features"), py::arg("out_features"), py::arg("bias") = true, py::arg("dtype") = DType::f32)
      .def_readonly("in_features", &nn::Linear::in_features)
      .def_readonly("out_features", &nn::Linear::out_features)
      .def_property_readonly("weight", [](const nn::Linear& l) { return l.weight; })
      .def_property_readonly("bias", [](const nn::Linear& l) -> std::optional<Tensor> {
        if (!l.bias.defined()) return std::nullopt;
        return l.bias;
      });

  auto conv_opts = [](int64_t stride, int64_t padding, int64_t dilation, int64_t groups, bool bias,
                      const py::object& dtype) {
    nn::Conv1dOptions o;
    o.stride = stride;
    o.padding = padding;
    o.dilation = dilation;
    o.groups = groups;
    o.bias = bias;
    o.dtype = dtype_from(dtype);
    return o;
  };
  py::classh<nn::Conv1d, nn::Module>(m, "Conv1d", "1-D convolution layer: [N, Cin, L] -> [N, Cout, L'].")
      .def(py::init([=](int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int64_t dilation,
                        int64_t groups, bool bias, const py::object& dtype) {
        return std::make_shared<nn::Conv1d>(cin, cout, k, conv_opts(stride, padding, dilation, groups, bias, dtype));
      }), py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride") = 1,
      py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("bias") = true,
      py::arg("dtype") = DType::f32)
      .def_property_readonly("weight", [](const nn::Conv1d& l) { return l.weight; })
      .def_property_readonly("bias", [](const nn::Conv1d& l) -> std::optional<Tensor> {
        if (!l.bias.defined()) return std::nullopt;
        return l.bias;
      });
  py::classh<nn::Conv2d, nn::Module>(m, "Conv2d", "2-D convolution layer: [N, Cin, H, W] -> [N, Cout, H', W'].")
      .def(py::init([=](int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int64_t dilation,
                        int64_t groups, bool bias, const py::object& dtype) {
        return std::make_shared<nn::Conv2d>(cin, cout, k, conv_opts(stride, padding, dilation, groups, bias, dtype));
      }), py::arg("in_channels"), py::arg("out_channels"), py::arg("kernel_size"), py::arg("stride") = 1,
      py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("bias") = true,
      py::arg("dtype") = DType::f32)
      .def_property_readonly("weight", [](const nn::Conv2d& l) { return l.weight; })
      .def_property_readonly("bias", [](const nn::Conv2d& l) -> std::optional<Tensor> {
        if (!l.bias.defined()) return std::nullopt;
        return l.bias;
      });
  py::classh<nn::Dropout, nn::Module>(m, "Dropout", "Inverted dropout while training; identity in eval().")
      .def(py::init<double, uint64_t>(), py::arg("p") = 0.5, py::arg("seed") = 0)
      .def_readonly("p", &nn::Dropout::p);
  py::classh<nn::Embedding, nn::Module>(m, "Embedding", "Lookup table: integer indices [...] -> [..., D].")
      .def(py::init([](int64_t n, int64_t d, const py::object& dtype) {
        return std::make_shared<nn::Embedding>(n, d, dtype_from(dtype));
      }), py::arg("num_embeddings"), py::arg("embedding_dim"), py::arg("dtype") = DType::f32)
      .def_property_readonly("weight", [](const nn::Embedding& l) { return l.weight; });
  py::classh<nn::LayerNorm, nn::Module>(m, "LayerNorm", "Layer normalisation over the trailing normalized_shape.")
      .def(py::init([](const py::object& shape, double eps, bool affine, const py::object& dtype) {
        return std::make_shared<nn::LayerNorm>(shape_from(shape), eps, affine, dtype_from(dtype));
      }), py::arg("normalized_shape"), py::arg("eps") = 1e-5, py::arg("elementwise_affine") = true,
      py::arg("dtype") = DType::f32);
  py::classh<nn::GRU, nn::Module>(m, "GRU", "Multi-layer GRU, batch-first: x [B, T, input_size].")
      .def(py::init([](int64_t in, int64_t hidden, int64_t layers, bool bias, const py::object& dtype) {
        return std::make_shared<nn::GRU>(in, hidden, layers, bias, dtype_from(dtype));
      }), py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers") = 1, py::arg("bias") = true,
      py::arg("dtype") = DType::f32)
      .def("forward", [](nn::GRU& g, const Tensor& x, const std::optional<Tensor>& h0) {
        auto r = g.forward(x, h0 ? *h0 : Tensor());
        return py::make_tuple(r.first, r.second);
      }, py::arg("x"), py::arg("h0") = py::none(), "-> (outputs [B, T, H], h_n [num_layers, B, H]).");
  py::classh<nn::MultiheadAttention, nn::Module>(m, "MultiheadAttention", "Multi-head scaled dot-product attention.")
      .def(py::init([](int64_t d, int64_t heads, bool bias, bool causal, const py::object& dtype) {
        return std::make_shared<nn::MultiheadAttention>(d, heads, bias, causal, dtype_from(dtype));
      }), py::arg("embed_dim"), py::arg("num_heads"), py::arg("bias") = true, py::arg("causal") = false,
      py::arg("dtype") = DType::f32)
      .def("forward", [](nn::MultiheadAttention& a, const Tensor& q, const std::optional<Tensor>& k,
                         const std::optional<Tensor>& v, const std::optional<Tensor>& mask) {
        return a.forward(q, k ? *k : q, v ? *v : (k ? *k : q), mask ? *mask : Tensor());
      }, py::arg("query"), py::arg("key") = py::none(), py::arg("value") = py::none(),
      py::arg("attn_mask") = py::none(), "query [B,T,D], key/value [B,S,D] (default: self-attention).")
      .def_static("causal_mask", [](int64_t t, int64_t s, const py::object& dtype) {
        return nn::MultiheadAttention::causal_mask(t, s, dtype_from(dtype));
      }, py::arg("T"), py::arg("S"), py::arg("dtype") = DType::f32);
  py::classh<nn::ReLU, nn::Module>(m, "ReLU").def(py::init<>());
  py::classh<nn::GELU, nn::Module>(m, "GELU").def(py::init<>());
  py::classh<nn::Tanh, nn::Module>(m, "Tanh").def(py::init<>());
  py::classh<nn::Sigmoid, nn::Module>(m, "Sigmoid").def(py::init<>());
  py::classh<nn::Pool, nn::Module>(m, "Pool", "Base of the pooling layers.");
  py::classh<nn::MaxPool1d, nn::Pool>(m, "MaxPool1d")
      .def(py::init<int64_t, int64_t, int64_t>(), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0);
  py::classh<nn::AvgPool1d, nn::Pool>(m, "AvgPool1d")
      .def(py::init<int64_t, int64_t, int64_t>(), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0);
  py::classh<nn::MaxPool2d, nn::Pool>(m, "MaxPool2d")
      .def(py::init<int64_t, int64_t, int64_t>(), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0);
  py::classh<nn::AvgPool2d, nn::Pool>(m, "AvgPool2d")
      .def(py::init<int64_t, int64_t, int64_t>(), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0);
  py::classh<nn::GlobalAvgPool, nn::Module>(m, "GlobalAvgPool").def(py::init<>());
  py::classh<nn::Flatten, nn::Module>(m, "Flatten").def(py::init<int64_t>(), py::arg("start_dim") = 1);
  py::classh<nn::Sequential, nn::Module>(m, "Sequential", "Applies its modules in order.")
      .def(py::init([](const py::args& mods) {
        auto s = std::make_shared<nn::Sequential>();
        for (auto mod : mods) s->push_back(mod.cast<std::shared_ptr<nn::Module>>());
        return s;
      }))
      .def("append", [](nn::Sequential& s, std::shared_ptr<nn::Module> mod) { s.push_back(std::move(mod)); },
           py::arg("module"))
      .def("__len__", &nn::Sequential::size)
      .def("__getitem__", [](const nn::Sequential& s, int64_t i) {
        const auto n = static_cast<int64_t>(s.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) throw py::index_error("Sequential index out of range");
        return s[static_cast<size_t>(i)];
      });

  py::module_ init = m.def_submodule("init", "In-place initialisers (PyTorch's nn.init).");
  py::enum_<nn::init::FanMode>(init, "FanMode").value("fan_in", nn::init::FanMode::fan_in)
      .value("fan_out", nn::init::FanMode::fan_out);
  auto fan = [](const std::string& s) {
    if (s == "fan_in") return nn::init::FanMode::fan_in;
    if (s == "fan_out") return nn::init::FanMode::fan_out;
    throw py::value_error("mode must be 'fan_in' or 'fan_out', got '" + s + "'");
  };
  init.def("calculate_gain", &nn::init::calculate_gain, py::arg("nonlinearity"), py::arg("param") = 0.01);
  init.def("uniform_", [](Tensor& t, double lo, double hi) { nn::init::uniform_(t, lo, hi); return t; },
           py::arg("t"), py::arg("a") = 0.0, py::arg("b") = 1.0);
  init.def("normal_", [](Tensor& t, double mean, double std) { nn::init::normal_(t, mean, std); return t; },
           py::arg("t"), py::arg("mean") = 0.0, py::arg("std") = 1.0);
  init.def("constant_", [](Tensor& t, double v) { nn::init::constant_(t, v); return t; }, py::arg("t"), py::arg("value"));
  init.def("zeros_", [](Tensor& t) { nn::init::zeros_(t); return t; }, py::arg("t"));
  init.def("ones_", [](Tensor& t) { nn::init::ones_(t); return t; }, py::arg("t"));
  init.def("xavier_uniform_", [](Tensor& t, double g) { nn::init::xavier_uniform_(t, g); return t; },
           py::arg("t"), py::arg("gain") = 1.0);
  init.def("xavier_normal_", [](Tensor& t, double g) { nn::init::xavier_normal_(t, g); return t; },
           py::arg("t"), py::arg("gain") = 1.0);
  init.def("kaiming_uniform_", [=](Tensor& t, double a, const std::string& mode, const std::string& nl) {
    nn::init::kaiming_uniform_(t, a, fan(mode), nl);
    return t;
  }, py::arg("t"), py::arg("a") = 0.0, py::arg("mode") = "fan_in", py::arg("nonlinearity") = "leaky_relu");
  init.def("kaiming_normal_", [=](Tensor& t, double a, const std::string& mode, const std::string& nl) {
    nn::init::kaiming_normal_(t, a, fan(mode), nl);
    return t;
  }, py::arg("t"), py::arg("a") = 0.0, py::arg("mode") = "fan_in", py::arg("nonlinearity") = "leaky_relu");
}

}  // namespace pgpy
