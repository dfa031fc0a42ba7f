// Every op of autodiff/ops.h as a module-level function with keyword arguments and docstrings.
// Large inputs run with the GIL released (MaybeRelease); the ops never call back into Python.
#include <pybind11/numpy.h>

#include <string>

#include "autodiff/ops.h"
#include "autodiff/ops/spectral.h"
#include "bind_common.h"

namespace pgpy {
namespace pg = pianograd;
namespace {

pg::Axes axes_from(const py::object& axis) {
  if (axis.is_none()) return {};
  return shape_from(axis);  // an int or a sequence of ints
}

pg::Reduction reduction_from(const std::string& r) {
  if (r == "mean") return pg::Reduction::mean;
  if (r == "sum") return pg::Reduction::sum;
  if (r == "none") return pg::Reduction::none;
  throw py::value_error("reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

// A loss target: a tensor/array as is (cast to pred's dtype), a Python number filled to pred's shape.
Tensor target_like(const py::object& target, const Tensor& pred) {
  if (py::isinstance<py::int_>(target) || py::isinstance<py::float_>(target))
    return pg::full_like(pred, target.cast<double>());
  return as_operand(target, pred);
}

using T = const Tensor&;
using O = const py::object&;

// Unary elementwise op: f(x) with the GIL released for large x.
template <Tensor (*F)(const Tensor&)>
void unary(py::module_& m, const char* name, const char* doc) {
  m.def(name, [](T x) {
    MaybeRelease rel(x.numel());
    return F(x);
  }, py::arg("x"), doc);
}

// Binary broadcasting op; `b` may be a tensor, an array or a Python number (cast to a's dtype).
template <Tensor (*F)(const Tensor&, const Tensor&)>
void binary(py::module_& m, const char* name, const char* doc) {
  m.def(name, [](T a, O b) {
    Tensor bt = as_operand(b, a);
    MaybeRelease rel(std::max(a.numel(), bt.numel()));
    return F(a, bt);
  }, py::arg("a"), py::arg("b"), doc);
}


// An int (both axes) or an (h, w) pair, as torch's conv2d takes them.
pg::Conv2dPair conv_pair(const py::object& v, const char* name) {
  if (py::isinstance<py::int_>(v)) {
    const int64_t k = v.cast<int64_t>();
    return {k, k};
  }
  const auto t = v.cast<std::vector<int64_t>>();
  if (t.size() != 2) throw py::value_error(std::string("conv2d: ") + name + " must be an int or an (h, w) pair");
  return {t[0], t[1]};
}
pg::ConvActivation conv_activation(const std::string& a) {
  if (a == "none") return pg::ConvActivation::none;
  if (a == "relu") return pg::ConvActivation::relu;
  throw py::value_error("conv2d: activation must be \"none\" or \"relu\", got \"" + a + "\"");
}
}  // namespace

void bind_ops(py::module_& m) {
  // --- elementwise (autodiff/ops/elementwise.h) ---
  binary<pg::add>(m, "add", "a + b with NumPy broadcasting.");
  binary<pg::sub>(m, "sub", "a - b with NumPy broadcasting.");
  binary<pg::mul>(m, "mul", "a * b with NumPy broadcasting.");
  binary<pg::div>(m, "div", "a / b with NumPy broadcasting.");
  binary<static_cast<Tensor (*)(T, T)>(pg::pow)>(m, "pow", "a ** b with NumPy broadcasting.");
  binary<pg::maximum>(m, "maximum", "Elementwise max; the gradient goes to the larger input.");
  binary<pg::minimum>(m, "minimum", "Elementwise min; the gradient goes to the smaller input.");
  binary<pg::eq>(m, "eq", "a == b as a 0/1 mask of a's dtype (no gradient).");
  binary<pg::lt>(m, "lt", "a < b as a 0/1 mask.");
  binary<pg::le>(m, "le", "a <= b as a 0/1 mask.");
  binary<pg::gt>(m, "gt", "a > b as a 0/1 mask.");
  binary<pg::ge>(m, "ge", "a >= b as a 0/1 mask.");
  m.def("where", [](T cond, T a, O b) {
    Tensor bt = as_operand(b, a);
    MaybeRelease rel(a.numel());
    return pg::where(cond, a, bt);
  }, py::arg("cond"), py::arg("a"), py::arg("b"),
  "a where cond is nonzero, else b (broadcasting); gradients flow to the chosen side.");
  m.def("broadcast_shapes", [](O a, O b) {
    return shape_to_tuple(pg::broadcast_shapes(shape_from(a), shape_from(b), "broadcast_shapes"));
  }, py::arg("a"), py::arg("b"), "The NumPy broadcast of two shapes (ValueError when incompatible).");

  unary<pg::neg>(m, "neg", "-x.");
  unary<pg::exp>(m, "exp", "e**x.");
  unary<pg::log>(m, "log", "Natural logarithm.");
  unary<pg::sqrt>(m, "sqrt", "Square root.");
  unary<pg::abs>(m, "abs", "|x| (subgradient 0 at 0).");
  unary<pg::sin>(m, "sin", "Sine.");
  unary<pg::cos>(m, "cos", "Cosine.");
  unary<pg::tanh>(m, "tanh", "Hyperbolic tangent.");
  unary<pg::sigmoid>(m, "sigmoid", "1 / (1 + e**-x).");
  unary<pg::relu>(m, "relu", "max(x, 0).");
  unary<pg::gelu>(m, "gelu", "GELU, tanh approximation (Hendrycks & Gimpel 2016).");
  unary<pg::softplus>(m, "softplus", "log(1 + e**x), computed stably.");
  m.def("clamp", [](T x, double lo, double hi) { MaybeRelease rel(x.numel()); return pg::clamp(x, lo, hi); },
        py::arg("x"), py::arg("min"), py::arg("max"), "Clips x to [min, max]; zero gradient outside.");

  // --- reductions (autodiff/ops/reduce.h) ---
  // Everything read from a Python object (axes, shapes, pairs) is read before the GIL is released, and
  // Python results are built after it is taken back: neither may touch the interpreter without it.
  m.def("sum", [](T x, O axis, bool keepdim) {
    auto axes = axes_from(axis);
    MaybeRelease rel(x.numel());
    return pg::sum(x, axes, keepdim);
  },
        py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false,
        "Sum over `axis` (an int, a sequence, or None for all).");
  m.def("mean", [](T x, O axis, bool keepdim) {
    auto axes = axes_from(axis);
    MaybeRelease rel(x.numel());
    return pg::mean(x, axes, keepdim);
  },
        py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false, "Mean over `axis` (None: all).");
  m.def("var", [](T x, O axis, bool keepdim, int64_t correction) {
    auto axes = axes_from(axis);
    MaybeRelease rel(x.numel());
    return pg::var(x, axes, keepdim, correction);
  }, py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false, py::arg("correction") = 0,
  "Variance over `axis`; correction=1 gives the unbiased estimate.");
  m.def("max", [](T x, std::optional<int64_t> axis, bool keepdim) -> py::object {
    std::pair<Tensor, Tensor> r;
    {
      MaybeRelease rel(x.numel());
      r = axis ? pg::max(x, *axis, keepdim) : std::make_pair(pg::max(x), Tensor());
    }
    if (!axis) return py::cast(r.first);
    return py::make_tuple(r.first, r.second);
  }, py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false,
  "max(x) -> 0-d tensor; max(x, axis) -> (values, int64 indices).");
  m.def("min", [](T x, std::optional<int64_t> axis, bool keepdim) -> py::object {
    std::pair<Tensor, Tensor> r;
    {
      MaybeRelease rel(x.numel());
      r = axis ? pg::min(x, *axis, keepdim) : std::make_pair(pg::min(x), Tensor());
    }
    if (!axis) return py::cast(r.first);
    return py::make_tuple(r.first, r.second);
  }, py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdim") = false,
  "min(x) -> 0-d tensor; min(x, axis) -> (values, int64 indices).");
  m.def("argmax", &pg::argmax, py::arg("x"), py::arg("axis"), py::arg("keepdim") = false,
        "Index of the (first) maximum along axis, int64.");
  m.def("logsumexp", &pg::logsumexp, py::arg("x"), py::arg("axis"), py::arg("keepdim") = false,
        "log(sum(exp(x), axis)), computed stably.");
  m.def("softmax", &pg::softmax, py::arg("x"), py::arg("axis") = -1, "Softmax along axis.");
  m.def("log_softmax", &pg::log_softmax, py::arg("x"), py::arg("axis") = -1, "Log-softmax along axis.");
  m.def("scaled_dot_product_attention", [](T q, T k, T v, bool causal, double scale) {
    MaybeRelease rel(q.numel());
    return pg::scaled_dot_product_attention(q, k, v, causal, scale);
  }, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("causal") = true, py::arg("scale") = 0.0,
  "softmax(scale q k^T) v over [..., T, D] (fused; scale 0 = 1/sqrt(D)); causal: query i sees keys j <= i + Tk - Tq.");

  // --- shape and indexing (autodiff/ops/shape_ops.h) ---
  m.def("reshape", [](T x, O shape) { return pg::reshape(x, shape_from(shape)); }, py::arg("x"), py::arg("shape"),
        "Same data in a new shape (shares memory; one -1 allowed).");
  m.def("permute", [](T x, O dims) { return pg::permute(x, shape_from(dims)); }, py::arg("x"), py::arg("dims"),
        "Reorders dimensions (materialised).");
  m.def("transpose", &pg::transpose, py::arg("x"), py::arg("dim0"), py::arg("dim1"), "Swaps two dimensions.");
  m.def("squeeze", &pg::squeeze, py::arg("x"), py::arg("dim"), "Removes a size-1 dimension.");
  m.def("unsqueeze", &pg::unsqueeze, py::arg("x"), py::arg("dim"), "Inserts a size-1 dimension.");
  m.def("expand", [](T x, O shape) { return pg::expand(x, shape_from(shape)); }, py::arg("x"), py::arg("shape"),
        "Broadcasts x to shape (materialised).");
  m.def("concat", &pg::concat, py::arg("tensors"), py::arg("dim") = 0, "Joins tensors along an existing dim.");
  m.def("stack", &pg::stack, py::arg("tensors"), py::arg("dim") = 0, "Joins tensors along a new dim.");
  m.def("slice", &pg::slice, py::arg("x"), py::arg("dim"), py::arg("start"), py::arg("stop"), py::arg("step") = 1,
        "x[start:stop:step] along dim (copy; step > 0).");
  m.def("pad", &pg::pad, py::arg("x"), py::arg("pads"), py::arg("value") = 0.0,
        "Constant padding; pads = (before, after) pairs starting from the LAST dim (torch.nn.functional.pad order).");
  m.def("gather", &pg::gather, py::arg("x"), py::arg("dim"), py::arg("index"),
        "out[i][j] = x[i][index[i][j]] along dim (torch.gather).");
  m.def("scatter_add", &pg::scatter_add, py::arg("x"), py::arg("dim"), py::arg("index"), py::arg("src"),
        "out = x; out[index[i][j]] += src[i][j] along dim (torch.scatter_add).");
  m.def("index_select", &pg::index_select, py::arg("x"), py::arg("dim"), py::arg("index"),
        "Rows of x along dim picked by a 1-D integer index.");
  m.def("embedding", &pg::embedding, py::arg("weight"), py::arg("indices"),
        "weight[indices] for weight [V, D] and integer indices of any shape.");

  // --- linear algebra (autodiff/ops/linalg.h) ---
  m.def("matmul", [](T a, T b) { MaybeRelease rel(a.numel() + b.numel()); return pg::matmul(a, b); },
        py::arg("a"), py::arg("b"), "Matrix product with NumPy semantics (1-D promotion, batch broadcasting).");
  m.def("bmm", [](T a, T b) { MaybeRelease rel(a.numel() + b.numel()); return pg::bmm(a, b); },
        py::arg("a"), py::arg("b"), "[B,M,K] @ [B,K,N].");
  m.def("banded_matmul", [](T x, T w) { MaybeRelease rel(x.numel() + w.numel()); return pg::banded_matmul(x, w); },
        py::arg("x"), py::arg("w"),
        "x [..., K] @ w [K, N] over the contiguous nonzero band of each column of w (a filterbank): same values\n"
        "and gradients as matmul, multiply-adds on the bands only.");

  // --- convolution and pooling (autodiff/ops/conv.h) ---
  m.def("conv1d", [](T x, T w, const std::optional<Tensor>& b, int64_t stride, int64_t padding, int64_t dilation,
                     int64_t groups) {
    MaybeRelease rel(x.numel() * w.numel());
    return pg::conv1d(x, w, opt(b), stride, padding, dilation, groups);
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
  py::arg("dilation") = 1, py::arg("groups") = 1, "x [N,Cin,L] * weight [Cout,Cin/groups,K] (cross-correlation).");
  m.def("conv2d", [](T x, T w, const std::optional<Tensor>& b, const py::object& stride, const py::object& padding,
                     const py::object& dilation, int64_t groups, const std::string& activation) {
    const auto st = conv_pair(stride, "stride"), pd = conv_pair(padding, "padding");
    const auto dl = conv_pair(dilation, "dilation");
    MaybeRelease rel(x.numel() * w.numel());
    return pg::conv2d(x, w, opt(b), st, pd, dl, groups, conv_activation(activation));
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
  py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("activation") = "none",
  "x [N,Cin,H,W] * weight [Cout,Cin/groups,KH,KW]. stride / padding / dilation: an int or an (h, w) pair\n"
  "(torch's tuples); activation=\"relu\" fuses the ReLU into the conv (one op, no separate pass).");
  m.def("conv2d_concat", [](T x, T x2, T w, const std::optional<Tensor>& b, const py::object& stride,
                            const py::object& padding, const py::object& dilation, const std::string& activation) {
    const auto st = conv_pair(stride, "stride"), pd = conv_pair(padding, "padding");
    const auto dl = conv_pair(dilation, "dilation");
    MaybeRelease rel((x.numel() + x2.numel()) * w.numel());
    return pg::conv2d_concat(x, x2, w, opt(b), st, pd, dl, conv_activation(activation));
  }, py::arg("x"), py::arg("x2"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
  py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("activation") = "none",
  "conv2d(concat([x, x2], 1), ...) without the concatenated copy where the direct kernel applies\n"
  "(activation=\"relu\", stride 1, padding along H only: a [k x 1] time conv over [features | context]).");
  m.def("conv_transpose1d", [](T x, T w, const std::optional<Tensor>& b, int64_t stride, int64_t padding,
                               int64_t output_padding, int64_t dilation, int64_t groups) {
    MaybeRelease rel(x.numel() * w.numel());
    return pg::conv_transpose1d(x, w, opt(b), stride, padding, output_padding, dilation, groups);
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
  py::arg("output_padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1,
  "Transposed 1-D convolution; weight [Cin,Cout/groups,K] (PyTorch layout).");
  m.def("max_pool1d", &pg::max_pool1d, py::arg("x"), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0,
        "Max pooling over L of [N,C,L]; stride 0 = kernel.");
  m.def("avg_pool1d", &pg::avg_pool1d, py::arg("x"), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0,
        "Average pooling over L of [N,C,L]; stride 0 = kernel.");
  m.def("max_pool2d", &pg::max_pool2d, py::arg("x"), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0,
        "Max pooling over H,W of [N,C,H,W]; stride 0 = kernel.");
  m.def("avg_pool2d", &pg::avg_pool2d, py::arg("x"), py::arg("kernel"), py::arg("stride") = 0, py::arg("padding") = 0,
        "Average pooling over H,W of [N,C,H,W]; stride 0 = kernel.");

  // --- normalisation, dropout, losses (autodiff/ops/nn_ops.h) ---
  m.def("layer_norm", [](T x, O shape, const std::optional<Tensor>& w, const std::optional<Tensor>& b, double eps) {
    auto ns = shape_from(shape);
    MaybeRelease rel(x.numel());
    return pg::layer_norm(x, ns, opt(w), opt(b), eps);
  }, py::arg("x"), py::arg("normalized_shape"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
  py::arg("eps") = 1e-5, "Normalises over the trailing normalized_shape dims, then scales/shifts.");
  m.def("dropout", [](T x, double p, bool training, uint64_t seed) { return pg::dropout(x, p, training, seed); },
        py::arg("x"), py::arg("p") = 0.5, py::arg("training") = true, py::arg("seed") = 0,
        "Inverted dropout, deterministic from seed; identity when not training or p == 0.");
  m.def("mse_loss", [](T p, O t, const std::string& r) { return pg::mse_loss(p, target_like(t, p), reduction_from(r)); },
        py::arg("pred"), py::arg("target"), py::arg("reduction") = "mean", "Mean squared error.");
  m.def("l1_loss", [](T p, O t, const std::string& r) { return pg::l1_loss(p, target_like(t, p), reduction_from(r)); },
        py::arg("pred"), py::arg("target"), py::arg("reduction") = "mean", "Mean absolute error.");
  m.def("bce_with_logits", [](T logits, O t, const std::string& r, const std::optional<Tensor>& pos_weight) {
    return pg::bce_with_logits(logits, target_like(t, logits), reduction_from(r), opt(pos_weight));
  }, py::arg("logits"), py::arg("target"), py::arg("reduction") = "mean", py::arg("pos_weight") = py::none(),
  "Binary cross-entropy on logits (stable); pos_weight scales the positive term.");
  m.def("cross_entropy", [](T logits, T target, int64_t ignore_index, const std::string& r) {
    return pg::cross_entropy(logits, target, ignore_index, reduction_from(r));
  }, py::arg("logits"), py::arg("target"), py::arg("ignore_index") = -100, py::arg("reduction") = "mean",
  "Softmax cross-entropy; logits [N,C,...], int64 target [N,...]; ignore_index entries are skipped.");

  // --- spectral (autodiff/ops/spectral.h) ---
  m.def("stft_magnitude", [](T x, int64_t n_fft, int64_t hop, int64_t max_bins) {
    MaybeRelease rel(x.numel() * 8);
    return pg::stft_magnitude(x, n_fft, hop, max_bins);
  }, py::arg("x"), py::arg("n_fft"), py::arg("hop") = 0, py::arg("max_bins") = 0,
  "|STFT| of x [T] or [B,T]: centred, reflect-padded, periodic Hann; hop 0 = n_fft/4; max_bins > 0 keeps\n"
  "only the first max_bins bins (not computing the rest).");
  m.def("fft_convolve", [](T x, T h) {
    MaybeRelease rel(x.numel() * 8);
    return pg::fft_convolve(x, h);
  }, py::arg("x"), py::arg("h"), "Causal FFT convolution truncated to the input length: x [T] or [B,T], h [K] shared by the batch.");
  m.def("multi_resolution_stft_loss", [](T pred, O target, const std::vector<int64_t>& fft_sizes, double overlap,
                                         double linear_weight, double log_weight, double eps) {
    pg::SpectralLossOptions o;
    o.fft_sizes = fft_sizes;
    o.overlap = overlap;
    o.linear_weight = linear_weight;
    o.log_weight = log_weight;
    o.eps = eps;
    Tensor t = as_operand(target, pred);
    MaybeRelease rel(pred.numel() * 8);
    return pg::multi_resolution_stft_loss(pred, t, o);
  }, py::arg("pred"), py::arg("target"), py::arg("fft_sizes") = std::vector<int64_t>{2048, 1024, 512, 256, 128, 64},
  py::arg("overlap") = 0.75, py::arg("linear_weight") = 1.0, py::arg("log_weight") = 1.0, py::arg("eps") = 1e-7,
  "Multi-resolution spectral loss (L1 on linear + log |STFT|, DDSP convention), fused forward/backward.");
}

}  // namespace pgpy
