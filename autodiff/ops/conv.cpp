// conv1d / conv2d / conv_transpose1d over the im2col + GEMM kernels (kernels/cpu/im2col.h), or, for
// stride-1 convs with few channels, the direct kernels (kernels/cpu/conv_direct.h).
// conv_transpose1d is the adjoint of conv1d: its forward is conv1d's input-gradient (col2im), its input
// gradient is conv1d's forward, so the two share one geometry (ConvGeom) and three kernels.
#include <span>

#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/ops/conv.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/reduce.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/reduce.h"

namespace pianograd {

namespace detail {  // autodiff/ops/conv_cuda.cpp: the CUDA paths (inputs validated here)
Tensor conv_cuda(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                 const kernels::cpu::ConvGeom& g, const Shape& ys);
Tensor conv_transpose_cuda(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                           const kernels::cpu::ConvGeom& g, const Shape& ys);
}  // namespace detail

PG_REGISTER_OP(conv1d);
PG_REGISTER_OP(conv2d);
PG_REGISTER_OP(conv2d_concat);
PG_REGISTER_OP(conv_transpose1d);

namespace {
namespace kc = kernels::cpu;
using std::to_string;

std::string str(const Tensor& t) { return shape_str(t.shape()); }

void check_params(const char* op, int64_t stride, int64_t padding, int64_t dilation, int64_t groups) {
  if (stride < 1 || padding < 0 || dilation < 1 || groups < 1)
    throw ValueError(std::string(op) + ": expected stride >= 1, padding >= 0, dilation >= 1, groups >= 1, got " +
                     "stride=" + to_string(stride) + " padding=" + to_string(padding) + " dilation=" +
                     to_string(dilation) + " groups=" + to_string(groups));
}

void check_tensors(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias, int64_t rank) {
  check_floating(x, op);
  check_floating(w, op);
  check_same_dtype(x, w, op);
  check_same_device(x, w, op);
  if (x.dim() != rank || w.dim() != rank)
    throw ShapeError(std::string(op) + ": expected " + to_string(rank) + "-D input and weight, got input " + str(x) +
                     " and weight " + str(w));
  if (bias.defined()) {
    check_floating(bias, op);
    check_same_dtype(x, bias, op);
  }
}

void check_groups(const char* op, int64_t channels, int64_t groups, const char* which) {
  if (channels % groups != 0)
    throw ShapeError(std::string(op) + ": groups=" + to_string(groups) + " does not divide the " + which +
                     " channels (" + to_string(channels) + ")");
}

void check_bias(const char* op, const Tensor& bias, int64_t cout) {
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != cout))
    throw ShapeError(std::string(op) + ": bias must have shape [" + to_string(cout) + "], got " + str(bias));
}

// Output length of one axis; ShapeError when the dilated kernel does not fit the padded input.
int64_t out_len(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, const Shape& x,
                const Tensor& w) {
  const int64_t span = d * (k - 1) + 1;
  if (in + 2 * p < span)
    throw ShapeError(std::string(op) + ": kernel larger than padded input: kernel span " + to_string(span) +
                     " (kernel " + to_string(k) + ", dilation " + to_string(d) + ") > input " + to_string(in) +
                     " + 2*padding " + to_string(p) + "; input " + shape_str(x) + ", weight " + str(w));
  return (in + 2 * p - span) / s + 1;
}

// Sum of gy over every dim but the channel dim 1: the bias gradient. Contiguous row sums (SIMD) then a
// sum over the batch: the generic multi-axis sum() walked [N, C, H, W] element by element (4% of a
// transcriber step).
Tensor bias_grad(const Tensor& gy) {
  const int64_t n = gy.size(0), c = gy.size(1), hw = gy.numel() / std::max<int64_t>(1, n * c);
  Tensor rows = Tensor::empty({n, c}, gy.dtype());
  Tensor gb = Tensor::empty({c}, gy.dtype());
  dispatch_floating(gy.dtype(), "conv bias gradient", [&](auto tag) {
    using T = decltype(tag);
    T* r = rows.data<T>();
    T* b = gb.data<T>();
    kc::reduce_sum<T>(gy.data<T>(), r, n * c, hw, 1);
    for (int64_t j = 0; j < c; ++j) b[j] = n > 0 ? r[j] : T(0);
    for (int64_t i = 1; i < n; ++i)
      for (int64_t j = 0; j < c; ++j) b[j] += r[i * c + j];
    return 0;
  });
  return gb;
}

template <class F>
void typed(const Tensor& t, const char* op, F&& f) {
  dispatch_floating(t.dtype(), op, [&](auto tag) {
    f(tag);
    return 0;
  });
}

// Validates the parameters and shapes of a conv over an input of shape xs (rank 3: [N, C, L], 4: [N, C,
// H, W]) and builds its geometry and output shape ys.
kc::ConvGeom conv_geom(const char* op, int64_t rank, const Shape& xs, const Tensor& w, const Tensor& bias,
                       Conv2dPair stride, Conv2dPair padding, Conv2dPair dilation, int64_t groups, Shape& ys) {
  for (int a = rank == 4 ? 0 : 1; a < 2; ++a) check_params(op, stride[a], padding[a], dilation[a], groups);
  const int64_t cin = xs[1], cout = w.size(0);
  check_groups(op, cin, groups, "input");
  check_groups(op, cout, groups, "output");
  if (w.size(1) * groups != cin)
    throw ShapeError(std::string(op) + ": channel mismatch: input " + shape_str(xs) + " has " + to_string(cin) +
                     " channels, weight " + str(w) + " with groups=" + to_string(groups) + " expects " +
                     to_string(w.size(1) * groups));
  check_bias(op, bias, cout);
  kc::ConvGeom g;
  g.N = xs[0];
  g.C = cin;
  g.Cout = cout;
  g.groups = groups;
  g.W = xs.back();
  g.KW = w.size(-1);
  g.sw = stride[1];
  g.pw = padding[1];
  g.dw = dilation[1];
  g.OW = out_len(op, g.W, g.KW, g.sw, g.pw, g.dw, xs, w);
  ys = {g.N, cout, g.OW};
  if (rank == 4) {
    g.H = xs[2];
    g.KH = w.size(2);
    g.sh = stride[0];
    g.ph = padding[0];
    g.dh = dilation[0];
    g.OH = out_len(op, g.H, g.KH, g.sh, g.ph, g.dh, xs, w);
    ys = {g.N, cout, g.OH, g.OW};
  }
  return g;
}

// Shared body of conv1d and conv2d (1-D is the H = KH = 1 case).
// stride / padding / dilation are {h, w}; the w entry is the only one used for conv1d.
Tensor conv_nd(const char* op, int64_t rank, const Tensor& x, const Tensor& w, const Tensor& bias,
               Conv2dPair stride, Conv2dPair padding, Conv2dPair dilation, int64_t groups, bool relu = false) {
  check_tensors(op, x, w, bias, rank);
  Shape ys;
  const kc::ConvGeom g = conv_geom(op, rank, x.shape(), w, bias, stride, padding, dilation, groups, ys);
  if (x.is_cuda()) [[unlikely]] {
    Tensor yc = detail::conv_cuda(op, x, w, bias, g, ys);
    return relu ? pianograd::relu(yc) : yc;
  }
  Tensor y = Tensor::empty(ys, x.dtype());
  // Small channel counts, stride 1: the direct kernel (no im2col, no GEMM packing); see conv_direct.h.
  const bool direct = kc::conv_direct_preferred(g);
  typed(x, op, [&](auto tag) {
    using T = decltype(tag);
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    if (direct) {
      kc::conv_direct_forward<T>(x.data<T>(), w.data<T>(), b, y.data<T>(), g, relu);
    } else {
      kc::conv_forward<T>(x.data<T>(), w.data<T>(), b, y.data<T>(), g);
      if (relu)
        for (T& v : std::span<T>(y.data<T>(), static_cast<size_t>(y.numel()))) v = v < T(0) ? T(0) : v;
    }
  });
  const bool has_bias = bias.defined();
  // With the fused ReLU, the VJP keeps the output (a detached alias: no reference cycle) for its mask
  // (y > 0 exactly where the pre-activation is > 0).
  auto vjp = [xd = x.detach(), wd = w.detach(), yd = relu ? y.detach() : Tensor(), g, op, has_bias, direct,
              rx = x.requires_grad(), rw = w.requires_grad()](const Tensor& gy_in) -> Grads {
    Tensor gx, gw, gy = gy_in;
    if (yd.defined() && direct) {  // fused ReLU on the direct path: mask per image inside the kernel
      Tensor gb = has_bias ? Tensor::empty({g.Cout}, gy.dtype()) : Tensor();
      if (rx) gx = Tensor::empty(xd.shape(), xd.dtype());
      if (rw) gw = Tensor::empty(wd.shape(), wd.dtype());
      typed(gy, op, [&](auto tag) {
        using T = decltype(tag);
        auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
        kc::conv_direct_backward_relu<T>(xd.data<T>(), wd.data<T>(), yd.data<T>(), gy.data<T>(), ptr(gx), ptr(gw),
                                         ptr(gb), g);
      });
      return {gx, gw, gb};
    }
    typed(gy, op, [&](auto tag) {
      using T = decltype(tag);
      if (yd.defined()) {
        gy = Tensor::empty(gy_in.shape(), gy_in.dtype());
        kc::unary_backward<T>(kernels::UnaryOp::relu, yd.data<T>(), yd.data<T>(), gy_in.data<T>(), gy.data<T>(),
                              static_cast<long>(gy.numel()));
      }
      if (rx) {
        gx = Tensor::empty(xd.shape(), xd.dtype());
        if (direct) kc::conv_direct_backward_input<T>(gy.data<T>(), wd.data<T>(), gx.data<T>(), g);
        else kc::conv_backward_input<T>(gy.data<T>(), wd.data<T>(), gx.data<T>(), g);
      }
      if (rw) {
        gw = Tensor::empty(wd.shape(), wd.dtype());
        if (direct) kc::conv_direct_backward_weight<T>(xd.data<T>(), gy.data<T>(), gw.data<T>(), g);
        else kc::conv_backward_weight<T>(xd.data<T>(), gy.data<T>(), gw.data<T>(), g);
      }
    });
    return {gx, gw, has_bias ? bias_grad(gy) : Tensor()};
  };
  if (has_bias) {
    record(y, op, {x, w, bias}, std::move(vjp));
  } else {
    record(y, op, {x, w}, [vjp = std::move(vjp)](const Tensor& gy) -> Grads {
      Grads gr = vjp(gy);
      gr.pop_back();
      return gr;
    });
  }
  return y;
}

}  // namespace

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  return conv_nd("conv1d", 3, x, w, bias, {1, stride}, {0, padding}, {1, dilation}, groups);
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  return conv_nd("conv2d", 4, x, w, bias, {stride, stride}, {padding, padding}, {dilation, dilation}, groups);
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Conv2dPair stride, Conv2dPair padding,
              Conv2dPair dilation, int64_t groups, ConvActivation activation) {
  return conv_nd("conv2d", 4, x, w, bias, stride, padding, dilation, groups, activation == ConvActivation::relu);
}

Tensor conv2d_concat(const Tensor& x, const Tensor& x2, const Tensor& w, const Tensor& bias, Conv2dPair stride,
                     Conv2dPair padding, Conv2dPair dilation, ConvActivation activation) {
  const char* op = "conv2d_concat";
  check_defined(x, op, "x");
  check_defined(x2, op, "x2");
  check_tensors(op, x, w, bias, 4);
  check_tensors(op, x2, w, bias, 4);
  if (x2.size(0) != x.size(0) || x2.size(2) != x.size(2) || x2.size(3) != x.size(3))
    throw ShapeError(std::string(op) + ": inputs differ beyond the channel dim: " + str(x) + " and " + str(x2));
  const bool relu = activation == ConvActivation::relu;
  Shape xs = x.shape(), ys;
  xs[1] += x2.size(1);
  const kc::ConvGeom g = conv_geom(op, 4, xs, w, bias, stride, padding, dilation, 1, ys);
  // Elsewhere (CUDA, geometries the two-input kernel does not cover, no fused ReLU): the copy.
  if (x.is_cuda() || x2.is_cuda() || !relu || !kc::conv_direct_concat_applicable(g))
    return conv2d(concat({x, x2}, 1), w, bias, stride, padding, dilation, 1, activation);
  const long c1 = static_cast<long>(x.size(1));
  Tensor y = Tensor::empty(ys, x.dtype());
  typed(x, op, [&](auto tag) {
    using T = decltype(tag);
    kc::conv_direct_forward<T>(x.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr, y.data<T>(), g,
                               true, x2.data<T>(), c1);
  });
  const bool has_bias = bias.defined();
  auto vjp = [xd = x.detach(), x2d = x2.detach(), wd = w.detach(), yd = y.detach(), g, c1, op, has_bias,
              rx = x.requires_grad(), rx2 = x2.requires_grad(), rw = w.requires_grad()](const Tensor& gy) -> Grads {
    Tensor gx = rx ? Tensor::empty(xd.shape(), xd.dtype()) : Tensor();
    Tensor gx2 = rx2 ? Tensor::empty(x2d.shape(), x2d.dtype()) : Tensor();
    Tensor gw = rw ? Tensor::empty(wd.shape(), wd.dtype()) : Tensor();
    Tensor gb = has_bias ? Tensor::empty({g.Cout}, gy.dtype()) : Tensor();
    typed(gy, op, [&](auto tag) {
      using T = decltype(tag);
      auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
      kc::conv_direct_backward_relu<T>(xd.data<T>(), wd.data<T>(), yd.data<T>(), gy.data<T>(), ptr(gx), ptr(gw),
                                       ptr(gb), g, x2d.data<T>(), ptr(gx2), c1);
    });
    return {gx, gx2, gw, gb};
  };
  if (has_bias) {
    record(y, op, {x, x2, w, bias}, std::move(vjp));
  } else {
    record(y, op, {x, x2, w}, [vjp = std::move(vjp)](const Tensor& gy) -> Grads {
      Grads gr = vjp(gy);
      gr.pop_back();
      return gr;
    });
  }
  return y;
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t padding,
                        int64_t output_padding, int64_t dilation, int64_t groups) {
  const char* op = "conv_transpose1d";
  check_tensors(op, x, w, bias, 3);
  check_params(op, stride, padding, dilation, groups);
  if (output_padding < 0 || output_padding >= std::max(stride, dilation))
    throw ValueError(std::string(op) + ": output_padding must be in [0, max(stride, dilation)), got " +
                     to_string(output_padding) + " with stride=" + to_string(stride) +
                     " dilation=" + to_string(dilation));
  const int64_t cin = x.size(1);
  check_groups(op, cin, groups, "input");
  if (w.size(0) != cin)
    throw ShapeError(std::string(op) + ": channel mismatch: input " + str(x) + " has " + to_string(cin) +
                     " channels, weight " + str(w) + " expects " + to_string(w.size(0)));
  const int64_t cout = w.size(1) * groups, k = w.size(2), len = x.size(2);
  check_bias(op, bias, cout);
  const int64_t lout = (len - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1;
  if (lout <= 0)
    throw ShapeError(std::string(op) + ": output length " + to_string(lout) + " is not positive for input " + str(x) +
                     ", weight " + str(w) + ", stride " + to_string(stride) + ", padding " + to_string(padding));
  // The conv1d whose adjoint this is: it maps [N, cout, lout] to [N, cin, len] with weight
  // [cin, cout/groups, k] — exactly conv_transpose1d's (PyTorch) weight layout.
  kc::ConvGeom g;
  g.N = x.size(0);
  g.C = cout;
  g.W = lout;
  g.Cout = cin;
  g.groups = groups;
  g.KW = k;
  g.OW = len;
  g.sw = stride;
  g.pw = padding;
  g.dw = dilation;
  if (x.is_cuda()) [[unlikely]] return detail::conv_transpose_cuda(op, x, w, bias, g, {g.N, cout, lout});
  Tensor y = Tensor::empty({g.N, cout, lout}, x.dtype());
  typed(x, op, [&](auto tag) {
    using T = decltype(tag);
    kc::conv_backward_input<T>(x.data<T>(), w.data<T>(), y.data<T>(), g);
    if (bias.defined()) {
      const T* b = bias.data<T>();
      T* py = y.data<T>();
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t c = 0; c < cout; ++c)
          for (int64_t i = 0; i < lout; ++i) py[(n * cout + c) * lout + i] += b[c];
    }
  });
  const bool has_bias = bias.defined();
  auto vjp = [xd = x.detach(), wd = w.detach(), g, op, has_bias, rx = x.requires_grad(),
              rw = w.requires_grad()](const Tensor& gy) -> Grads {
    Tensor gx, gw;
    typed(gy, op, [&](auto tag) {
      using T = decltype(tag);
      if (rx) {  // adjoint of the adjoint: the conv1d forward
        gx = Tensor::empty(xd.shape(), xd.dtype());
        kc::conv_forward<T>(gy.data<T>(), wd.data<T>(), nullptr, gx.data<T>(), g);
      }
      if (rw) {  // conv1d's weight gradient with gy as its input and x as its output gradient
        gw = Tensor::empty(wd.shape(), wd.dtype());
        kc::conv_backward_weight<T>(gy.data<T>(), xd.data<T>(), gw.data<T>(), g);
      }
    });
    return {gx, gw, has_bias ? bias_grad(gy) : Tensor()};
  };
  if (has_bias) {
    record(y, op, {x, w, bias}, std::move(vjp));
  } else {
    record(y, op, {x, w}, [vjp = std::move(vjp)](const Tensor& gy) -> Grads {
      Grads gr = vjp(gy);
      gr.pop_back();
      return gr;
    });
  }
  return y;
}

}  // namespace pianograd
