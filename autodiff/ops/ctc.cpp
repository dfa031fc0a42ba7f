// ctc_loss: validation, the kernel call and the VJP. When a gradient will be needed, the forward pass
// already runs the backward recursion and keeps d nll_b / d logits (softmax - gamma) for the VJP, which
// then only scales row block b by the upstream gradient of loss b (one pass over [B,T,C] instead of a
// second alpha recursion); without one (NoGrad, eval) only the alpha recursion runs.
#include "autodiff/ops/ctc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/dispatch.h"
#include "autodiff/op_registry.h"
#include "autodiff/tape.h"
#include "kernels/cpu/ctc.h"

namespace pianograd {

namespace kc = kernels::cpu;

PG_REGISTER_OP(ctc_loss);

namespace {

constexpr const char* kOp = "ctc_loss";

std::string op_arg(const char* arg) { return std::string(kOp) + ": " + arg; }

// An integer tensor's values as i64, whatever its index dtype.
std::vector<int64_t> index_values(const Tensor& t, const char* arg) {
  check_defined(t, kOp, arg);
  if (t.dtype() != DType::i64 && t.dtype() != DType::i32)
    throw DTypeError(op_arg(arg) + " must be int32 or int64, got " + dtype_name(t.dtype()));
  check_cpu(t, kOp);
  const size_t n = size_t(t.numel());
  std::vector<int64_t> v(n);
  if (t.dtype() == DType::i64) {
    const int64_t* p = t.data<int64_t>();
    v.assign(p, p + n);
  } else {
    const int32_t* p = t.data<int32_t>();
    for (size_t i = 0; i < n; ++i) v[i] = p[i];
  }
  return v;
}

void check_rank(const Tensor& t, int64_t rank, const char* arg, const char* layout) {
  if (t.dim() != rank)
    throw ShapeError(op_arg(arg) + " must be " + layout + " (rank " + std::to_string(rank) + "), got shape " +
                     shape_str(t.shape()));
}

struct Checked {
  kc::CtcSizes n;
  std::vector<int64_t> targets, in_len, tgt_len;
};

Checked validate(const Tensor& logits, const Tensor& targets, const Tensor& input_lengths,
                 const Tensor& target_lengths, int64_t blank) {
  check_floating(logits, kOp);
  check_cpu(logits, kOp);
  check_rank(logits, 3, "logits", "[B,T,C]");
  Checked k;
  k.targets = index_values(targets, "targets");
  k.in_len = index_values(input_lengths, "input_lengths");
  k.tgt_len = index_values(target_lengths, "target_lengths");
  check_rank(targets, 2, "targets", "[B,S]");
  check_rank(input_lengths, 1, "input_lengths", "[B]");
  check_rank(target_lengths, 1, "target_lengths", "[B]");
  const int64_t B = logits.size(0), T = logits.size(1), C = logits.size(2), S = targets.size(1);
  const Tensor* batched[] = {&targets, &input_lengths, &target_lengths};
  const char* names[] = {"targets", "input_lengths", "target_lengths"};
  for (int i = 0; i < 3; ++i)
    if (batched[i]->size(0) != B)
      throw ShapeError(op_arg(names[i]) + " has batch size " + std::to_string(batched[i]->size(0)) + ", logits " +
                       shape_str(logits.shape()) + " has B = " + std::to_string(B));
  if (C == 0) throw ShapeError(op_arg("logits ") + shape_str(logits.shape()) + " have no classes");
  if (blank < 0 || blank >= C)
    throw IndexError(op_arg("blank ") + std::to_string(blank) + " out of range [0, " + std::to_string(C) + ")");
  for (int64_t b = 0; b < B; ++b) {
    const int64_t il = k.in_len[size_t(b)], tl = k.tgt_len[size_t(b)];
    if (il < 0 || il > T)
      throw ValueError(op_arg("input_lengths[") + std::to_string(b) + "] = " + std::to_string(il) +
                       " out of range [0, T = " + std::to_string(T) + "]");
    if (tl < 0 || tl > S)
      throw ValueError(op_arg("target_lengths[") + std::to_string(b) + "] = " + std::to_string(tl) +
                       " out of range [0, S = " + std::to_string(S) + "]");
    for (int64_t j = 0; j < tl; ++j) {
      const int64_t lab = k.targets[size_t(b * S + j)];
      if (lab < 0 || lab >= C)
        throw IndexError(op_arg("targets[") + std::to_string(b) + ", " + std::to_string(j) + "] = " +
                         std::to_string(lab) + " out of range [0, C = " + std::to_string(C) + ")");
      if (lab == blank)
        throw ValueError(op_arg("targets[") + std::to_string(b) + ", " + std::to_string(j) + "] equals the blank " +
                         std::to_string(blank) + " (labels must differ from the blank)");
    }
  }
  // Only the frames the loss reads must be finite; padding beyond input_lengths[b] may hold anything.
  dispatch_floating(logits.dtype(), kOp, [&](auto tag) {
    using F = decltype(tag);
    const F* x = logits.data<F>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < k.in_len[size_t(b)] * C; ++i)
        if (!std::isfinite(x[b * T * C + i]))
          throw ValueError(op_arg("logits") + " must be finite, found " + std::to_string(double(x[b * T * C + i])) +
                           " at [" + std::to_string(b) + ", " + std::to_string(i / C) + ", " +
                           std::to_string(i % C) + "]");
    return 0;
  });
  k.n = kc::CtcSizes{long(B), long(T), long(C), long(S), blank};
  return k;
}

}  // namespace

Tensor ctc_loss(const Tensor& logits, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank, Reduction reduction, bool zero_infinity) {
  const Checked k = validate(logits, targets, input_lengths, target_lengths, blank);
  const long B = k.n.batch;
  const bool want_grad = grad_enabled() && logits.requires_grad();
  std::vector<double> nll(static_cast<size_t>(B));
  Tensor grad = want_grad ? Tensor::empty(logits.shape(), logits.dtype()) : Tensor();
  dispatch_floating(logits.dtype(), kOp, [&](auto tag) {
    using F = decltype(tag);
    kc::ctc_loss<F>(logits.data<F>(), k.targets.data(), k.in_len.data(), k.tgt_len.data(), k.n, nll.data(),
                    want_grad ? grad.data<F>() : nullptr);
    return 0;
  });
  // d result / d loss_b: 1/(max(S_b,1) B) for mean, 1 for sum and none; 0 for a sequence zero_infinity zeroed.
  std::vector<double> weight(size_t(B), 1.0);
  for (long b = 0; b < B; ++b) {
    double& v = nll[size_t(b)];
    if (std::isinf(v) && zero_infinity) {
      v = 0;
      weight[size_t(b)] = 0;
    }
    if (reduction == Reduction::mean)
      weight[size_t(b)] /= double(std::max<int64_t>(k.tgt_len[size_t(b)], 1)) * double(B);
  }
  Tensor y = Tensor::empty(reduction == Reduction::none ? Shape{B} : Shape{}, logits.dtype());
  dispatch_floating(logits.dtype(), kOp, [&](auto tag) {
    using F = decltype(tag);
    F* py = y.data<F>();
    if (reduction == Reduction::none) {
      for (long b = 0; b < B; ++b) py[b] = F(nll[size_t(b)]);
    } else {
      // Mean of an empty batch is 0/0 = NaN, as torch.
      double total = 0;
      for (long b = 0; b < B; ++b) total += nll[size_t(b)] * (reduction == Reduction::mean ? weight[size_t(b)] : 1.0);
      py[0] = F(B == 0 && reduction == Reduction::mean ? std::numeric_limits<double>::quiet_NaN() : total);
    }
    return 0;
  });
  if (!want_grad) return y;
  const long per = k.n.time * k.n.classes;
  record(y, kOp, {logits}, [grad, weight = std::move(weight), reduction, B, per](const Tensor& gy) -> Grads {
    Tensor gx = Tensor::empty(grad.shape(), grad.dtype());
    dispatch_floating(grad.dtype(), kOp, [&](auto tag) {
      using F = decltype(tag);
      const F* g = grad.data<F>();
      const F* pg = gy.data<F>();
      F* px = gx.data<F>();
      for (long b = 0; b < B; ++b) {
        const F s = F(weight[size_t(b)] * double(reduction == Reduction::none ? pg[b] : pg[0]));
        for (long i = b * per; i < (b + 1) * per; ++i) px[i] = s == F(0) ? F(0) : s * g[i];
      }
      return 0;
    });
    return {gx};
  });
  return y;
}

}  // namespace pianograd
