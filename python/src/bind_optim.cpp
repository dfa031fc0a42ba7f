// pianograd.optim: SGD, Adam, AdamW, learning-rate schedules and gradient clipping. step() runs with
// the GIL released (it touches only the parameters' memory).
#include "autodiff/optim/adam.h"
#include "autodiff/optim/clip.h"
#include "autodiff/optim/schedule.h"
#include "autodiff/optim/sgd.h"
#include "bind_common.h"

namespace pgpy {
namespace optim = pianograd::optim;

void bind_optim(py::module_& top) {
  py::module_ m = top.def_submodule("optim", "Optimizers and learning-rate schedules (the shape of torch.optim).");
  py::class_<optim::Optimizer>(m, "Optimizer", "Base class: steps parameters in place from their .grad.")
      .def("step", [](optim::Optimizer& o) {
        py::gil_scoped_release rel;
        o.step();
      }, "One update of every parameter that has a gradient (GIL released).")
      .def("zero_grad", &optim::Optimizer::zero_grad, "Drops every parameter's gradient.")
      .def_property("lr", &optim::Optimizer::lr, &optim::Optimizer::set_lr, "The learning rate.")
      .def_property_readonly("step_count", &optim::Optimizer::step_count)
      .def_property_readonly("params", &optim::Optimizer::params)
      .def_property_readonly("name", &optim::Optimizer::name)
      .def("state_dict", &optim::Optimizer::state_dict, "Per-parameter state ('<i>.<slot>') plus 'step'.")
      .def("load_state_dict", &optim::Optimizer::load_state_dict, py::arg("state"));
  py::class_<optim::SGD, optim::Optimizer>(m, "SGD", "SGD with momentum, dampening, weight decay, Nesterov (as torch).")
      .def(py::init([](std::vector<Tensor> params, double lr, double momentum, double dampening, double wd,
                       bool nesterov) {
        optim::SGDOptions o;
        o.lr = lr;
        o.momentum = momentum;
        o.dampening = dampening;
        o.weight_decay = wd;
        o.nesterov = nesterov;
        return new optim::SGD(std::move(params), o);
      }), py::arg("params"), py::arg("lr") = 1e-2, py::arg("momentum") = 0.0, py::arg("dampening") = 0.0,
      py::arg("weight_decay") = 0.0, py::arg("nesterov") = false);
  auto adam_opts = [](double lr, std::pair<double, double> betas, double eps, double wd) {
    optim::AdamOptions o;
    o.lr = lr;
    o.beta1 = betas.first;
    o.beta2 = betas.second;
    o.eps = eps;
    o.weight_decay = wd;
    return o;
  };
  py::class_<optim::Adam, optim::Optimizer>(m, "Adam", "Adam (Kingma & Ba 2015), step for step as torch.optim.Adam.")
      .def(py::init([=](std::vector<Tensor> params, double lr, std::pair<double, double> betas, double eps, double wd) {
        return new optim::Adam(std::move(params), adam_opts(lr, betas, eps, wd));
      }), py::arg("params"), py::arg("lr") = 1e-3, py::arg("betas") = std::pair<double, double>{0.9, 0.999},
      py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0);
  py::class_<optim::AdamW, optim::Adam>(m, "AdamW", "AdamW: decoupled weight decay (Loshchilov & Hutter 2019).")
      .def(py::init([=](std::vector<Tensor> params, double lr, std::pair<double, double> betas, double eps, double wd) {
        return new optim::AdamW(std::move(params), adam_opts(lr, betas, eps, wd));
      }), py::arg("params"), py::arg("lr") = 1e-3, py::arg("betas") = std::pair<double, double>{0.9, 0.999},
      py::arg("eps") = 1e-8, py::arg("weight_decay") = 1e-2);

  py::class_<optim::LRSchedule>(m, "LRSchedule", "Learning rate as a function of the step.")
      .def("lr_at", &optim::LRSchedule::lr_at, py::arg("step"))
      .def("__call__", &optim::LRSchedule::lr_at, py::arg("step"))
      .def("apply", &optim::LRSchedule::apply, py::arg("optimizer"),
           "Sets optimizer.lr to lr_at(optimizer.step_count).");
  py::class_<optim::ConstantLR, optim::LRSchedule>(m, "ConstantLR").def(py::init<double>(), py::arg("lr"));
  py::class_<optim::WarmupCosineLR, optim::LRSchedule>(m, "WarmupCosineLR",
                                                        "Linear warm-up to base_lr, then cosine decay to min_lr.")
      .def(py::init<double, int64_t, int64_t, double>(), py::arg("base_lr"), py::arg("warmup_steps"),
           py::arg("total_steps"), py::arg("min_lr") = 0.0);

  m.def("clip_grad_norm", &optim::clip_grad_norm, py::arg("params"), py::arg("max_norm"),
        "Scales gradients so their global L2 norm is at most max_norm; returns the norm before clipping.");
  m.def("grad_norm", &optim::grad_norm, py::arg("params"), "Global L2 norm of the parameters' gradients.");
}

}  // namespace pgpy
