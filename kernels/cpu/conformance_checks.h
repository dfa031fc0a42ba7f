// The checks behind the conformance cases, each taking the kernel under test as a parameter: the suite
// (conformance.h) passes the dispatched entry point; the emulated-width tests (tests/kernels/emulated_*)
// pass one ISA namespace's own entry point, instantiated over an emulated batch of 4, 8 or 16 lanes, so
// the same inputs, references and bounds check the 16-lane layouts on a host without AVX-512.
// Each returns the worst Outcome over the kernel's outputs (conformance.h); explicitly instantiated for
// float and double (the STFT for float) in conformance_<family>.cpp.
#pragma once
#include <complex>
#include <functional>
#include <vector>

#include "kernels/cpu/conformance.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/modal.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/pointwise_loss.h"
#include "kernels/cpu/stft.h"

namespace pianograd::kernels::cpu::conformance {

// Elementwise (size = elements). Each op is drawn from its domain (and, besides, from every special
// value: zeros of both signs, infinities, NaN, subnormals) and held to its bound in ulps.
struct Domain {
  double lo, hi;
  bool log_scale = false;    // |x| log-uniform over [lo, hi)
  bool random_sign = false;  // with log_scale: either sign (divisors kept away from zero)
};
struct BinarySpec {
  BinaryOp op;
  const char* name;
  Domain a, b;
  double ulps;
};
struct UnarySpec {
  UnaryOp op;
  const char* name;
  Domain x;
  double ulps;
  double floor;  // below this |reference| the error is absolute: zeros of sin, cos, tanh, log, gelu
};
const std::vector<BinarySpec>& binary_specs();
const std::vector<UnarySpec>& unary_specs();
template <class T> using BinaryFn = std::function<void(BinaryOp, const T*, long, const T*, long, T*, long)>;
template <class T> using UnaryFn = std::function<void(UnaryOp, const T*, T*, long)>;
template <class T> Outcome check_binary(BinaryOp op, long n, const BinaryFn<T>& fn);
template <class T> Outcome check_unary(UnaryOp op, long n, const UnaryFn<T>& fn);
// gx = gy f'(x) with y = f(x) from ref::unary, on the op's domain.
template <class T> using UnaryBwdFn = std::function<void(UnaryOp, const T*, const T*, const T*, T*, long)>;
template <class T> Outcome check_unary_backward(UnaryOp op, long n, const UnaryBwdFn<T>& fn);

// Training (size = elements). weight: 0 none, 1 one broadcast pos_weight, 2 one per element.
template <class T>
using LossFn = std::function<void(PointwiseLoss, const T*, const T*, const T*, long, T*, T*, T*, T*, long)>;
template <class T> using AdamFn = std::function<void(T*, const T*, T*, T*, long, const AdamStep&)>;
template <class T> Outcome check_pointwise_loss(PointwiseLoss kind, int weight, long n, const LossFn<T>& fn);
template <class T> Outcome check_adam(bool decoupled, long n, const AdamFn<T>& fn);

// Row reductions, x [rows, n] (size = n; 3 rows): the dispatched API with inner = 1.
template <class T> using RowsFn = std::function<void(const T* x, T* y, long rows, long n)>;
template <class T> using MaxRowsFn = std::function<void(const T* x, T* y, long rows, long n, bool is_min)>;
template <class T> using SoftmaxFn = std::function<void(const T* x, T* y, long rows, long n, bool log)>;
template <class T> using SoftmaxBwdFn = std::function<void(const T* y, const T* gy, T* gx, long rows, long n, bool log)>;
template <class T>
using LayerNormFn = std::function<void(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps)>;
template <class T>
using LayerNormBwdFn = std::function<void(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx,
                                          T* gw, T* gb, long rows, long n)>;
template <class T> Outcome check_sum_rows(long n, const RowsFn<T>& fn);
template <class T> Outcome check_max_rows(bool is_min, bool nan, long n, const MaxRowsFn<T>& fn);
template <class T> Outcome check_logsumexp_rows(long n, const RowsFn<T>& fn);
template <class T> Outcome check_softmax_rows(bool log, long n, const SoftmaxFn<T>& fwd, const SoftmaxBwdFn<T>& bwd);
// Row kernels accumulate gw/gb (the dispatcher zeroes them first); the check passes them zeroed.
template <class T> Outcome check_layer_norm_rows(long n, const LayerNormFn<T>& fwd, const LayerNormBwdFn<T>& bwd);

// C = alpha op(A) op(B) + beta C (size = N; M and K cycle through the register tiles' remainders).
template <class T>
using GemmFn = std::function<void(bool, bool, long, long, long, T, const T*, long, const T*, long, T, T*, long)>;
template <class T> Outcome check_gemm(bool trans_a, bool trans_b, bool beta0_nan_c, long size, const GemmFn<T>& fn);

// The direct convolution's row kernels (conv_direct.h) against ref::taps_* (size = the row length L).
template <class T>
using TapsForwardFn = std::function<void(const T*, long, long, const long*, long, const T*, long, T*, long, long,
                                         const T*, bool, const T*, long)>;
template <class T>
using TapsWeightFn = std::function<void(const T*, long, long, const long*, long, const T*, long, long, long, T*,
                                        const T*, long)>;
template <class T> using ReluMaskFn = std::function<T(const T*, const T*, T*, long)>;
template <class T>
Outcome check_taps(long L, const TapsForwardFn<T>& fwd, const TapsWeightFn<T>& weight, const ReluMaskFn<T>& mask);

// The batched STFT (float) against the per-frame KissFFT path (size = frames per signal).
using StftFn = std::function<void(const float* x, long batch, const StftGeometry& g, float* mag, std::complex<float>* spec)>;
Outcome check_stft(long n_fft, long hop, bool truncated, long frames, const StftFn& fn);

// The modal bank (size = modes). damping: 0 none, 1 a gate row and gain per note, 2 per mode.
template <class T>
using ModalForwardFn = std::function<void(const ModalBank<T>&, const T*, long, long, T*, const ModalOptions&, ModalTape<T>*)>;
template <class T>
using ModalBackwardFn = std::function<void(const ModalBank<T>&, const T*, long, long, const T*, const ModalGrads<T>&,
                                           const ModalOptions&, const ModalTape<T>*)>;
template <class T> Outcome check_modal_forward(int damping, double rel_threshold, long modes, const ModalForwardFn<T>& fn);
template <class T>
Outcome check_modal_backward(int damping, double rel_threshold, long modes, const ModalBackwardFn<T>& fn);

}  // namespace pianograd::kernels::cpu::conformance
